"""Sections of a report page written by another command, kept when the page is rewritten.

``docs/recovery.md`` carries the calibration study's section and ``docs/benchmarks.md`` the geo
memory study's; each sits between an HTML comment marker pair, so the study that owns the page
can rewrite it whole without losing what the other command measured.
"""

from __future__ import annotations

#: Marker pairs around the sections other commands write.
CALIBRATION = ("<!-- calibration study: begin -->", "<!-- calibration study: end -->")
GEO_MEMORY = ("<!-- geo memory study: begin -->", "<!-- geo memory study: end -->")
MARKERS = (CALIBRATION, GEO_MEMORY)


def write_section(doc_text: str, section: str, markers: tuple[str, str]) -> str:
    """``doc_text`` with the section between ``markers`` replaced by ``section`` (or appended).

    Parameters
    ----------
    doc_text : str
        The page as it is.
    section : str
        The new section, markers included.
    markers : tuple of str
        Its begin and end markers.

    Returns
    -------
    str
        The page with the section in place.
    """
    begin, end = markers
    if begin in doc_text and end in doc_text:
        head, rest = doc_text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        return head + section + tail
    return doc_text.rstrip("\n") + "\n\n" + section


def carry_sections(old_text: str, new_text: str) -> str:
    """``new_text`` with every marked section of ``old_text`` (:data:`MARKERS`) kept.

    Parameters
    ----------
    old_text : str
        The page before the rewrite.
    new_text : str
        The rewritten page, without those sections.

    Returns
    -------
    str
        ``new_text`` with the old page's marked sections, each where ``new_text`` has it or at
        the end.
    """
    for begin, end in MARKERS:
        if begin in old_text and end in old_text:
            body = old_text.split(begin, 1)[1].split(end, 1)[0]
            new_text = write_section(new_text, f"{begin}{body}{end}\n", (begin, end))
    return new_text
