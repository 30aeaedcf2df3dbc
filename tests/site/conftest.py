import pytest

from helpers.tools.site import build_site


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The course website, built once (strict: any mkdocs warning fails the build)."""
    out = tmp_path_factory.mktemp("site") / "site"
    pages, seconds = build_site(out)
    print(f"site: {pages} pages in {seconds:.1f} s")
    return out
