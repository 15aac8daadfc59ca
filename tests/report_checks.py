"""Checks shared by the report tests: sections present, every image an embedded PNG, nothing fetched."""

from __future__ import annotations

import base64
import io
import re

from PIL import Image

SECTIONS = ("questions", "recommendation", "data", "leaderboard", "paired", "curves", "calibration", "ood",
            "model-card", "glossary")  # fmt: skip
QUESTIONS = ("Which technique should I use?", "Is the difference real?", "Which metric should I watch, and why?",
             "Which threshold reaches the target sensitivity", "Can the probabilities be trusted",
             "PPV and NPV at the deployment prevalence", "Does the validation set")  # fmt: skip


def check_html(html: str) -> int:
    """Assert the report's sections and images; returns the number of images."""
    for section in SECTIONS:
        assert f'<section id="{section}">' in html, section
    for question in QUESTIONS:
        assert question in html, question
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the report must not fetch anything"
    sources = re.findall(r"<img [^>]*src=\"([^\"]*)\"", html)
    assert sources, "no figure in the report"
    for src in sources:
        assert src.startswith("data:image/png;base64,"), src[:60]
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        image.verify()
        assert image.format == "PNG"
    return len(sources)
