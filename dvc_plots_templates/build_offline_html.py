"""Write ``offline.html``: DVC's plots page with vega, vega-lite and vega-embed inlined, so
``dvc plots show --html-template dvc_plots_templates/offline.html`` renders with no network.

DVC's own page loads these three from cdn.jsdelivr.net (vega 5.20.2, vega-lite 5.2.0,
vega-embed 6.18.2: ``dvc_render/vega.py``); this page inlines the same versions. Rebuild:

    npm pack vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2   # in a scratch folder, untar each
    python dvc_plots_templates/build_offline_html.py <vega.min.js> <vega-lite.min.js> <vega-embed.min.js>

The libraries are BSD-3-Clause (University of Washington Interactive Data Lab): LICENSE-vega.txt.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot (offline)</title>
    <!-- vega, vega-lite, vega-embed inlined (BSD-3-Clause, dvc_plots_templates/LICENSE-vega.txt);
         no scripts placeholder: DVC's CDN script tags are left out -->
%s
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def build(js_paths: list[Path], out: Path = HERE / "offline.html") -> Path:
    """Inline each minified bundle (source-map comment dropped) into one page DVC can fill."""
    blocks = []
    for path in js_paths:
        code = re.sub(r"//# sourceMappingURL=\S+\s*$", "", path.read_text(encoding="utf-8"))
        if "</script" in code or "{plot_divs}" in code or "{scripts}" in code:
            raise ValueError(f"{path}: holds a sequence that would break the page")
        blocks.append(f'    <script type="text/javascript">/* {path.name} */\n{code}\n    </script>')
    page = PAGE.replace("%s", "\n".join(blocks), 1)
    out.write_text(page, encoding="utf-8")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(build([Path(p) for p in sys.argv[1:]]))
