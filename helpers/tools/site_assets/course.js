// A table too wide for its column scrolls sideways inside the theme's wrapper: make that wrapper reachable
// from the keyboard while it scrolls (axe: scrollable-region-focusable). document$ is the theme's page stream.
document$.subscribe(function () {
  var wrappers = document.querySelectorAll(".md-typeset__scrollwrap");
  function update() {
    wrappers.forEach(function (wrapper) {
      if (wrapper.scrollWidth > wrapper.clientWidth) {
        wrapper.setAttribute("tabindex", "0");
      } else {
        wrapper.removeAttribute("tabindex");
      }
    });
  }
  update();
  window.addEventListener("resize", update);
});
