"""The course runtime: what the notebooks need besides the learner's library.

Presets (``presets``), recorded figures (``records``), the runtime and the setup
cell's report (``environment``), folders per runtime (``paths``), the cell images
and backbone a preset starts from (``prepare``), facts about the course itself
(``facts``) and the exercise checks (``checks``). It may import the learner's
library; the library never imports it.
"""
