"""Drawing the text coloured by a cell, as Karpathy, Johnson & Fei-Fei
(2015, Figure 2) show their interpretable cells: each character on a
diverging blue-white-red scale of the cell's value after reading it.

`zoo.diagnostics.cells` finds the cells; this draws them, as a PNG
(matplotlib, Agg) and as self-contained HTML (inline styles).
"""

import html
import pathlib
import re

import numpy as np


def excerpt(text, series, length=400):
    """Where to look: the excerpt in which a property varies most.

    Args:
        text: The whole text read.
        series: A property's value at each character.
        length: The excerpt's length in characters.

    Returns:
        `(start, end)`: `length` characters from a line start (the whole
        text if shorter), with the largest variance of `series` there.
    """
    if len(text) <= length:
        return 0, len(text)
    starts = [0] + [m.end() for m in re.finditer("\n", text) if m.end() + length <= len(text)]
    sums = np.concatenate([[0], np.cumsum(series)])
    squares = np.concatenate([[0], np.cumsum(np.square(series))])
    ends = np.minimum(np.array(starts) + length, len(text))
    mean = (sums[ends] - sums[starts]) / length
    variance = (squares[ends] - squares[starts]) / length - mean ** 2
    start = starts[int(np.argmax(variance))]
    return start, start + length


def colours(values):
    """The paper's diverging scale: blue for negative, white at 0, red for
    positive, full at the largest |value|.

    Args:
        values: `(n,)` numbers.

    Returns:
        `(n, 3)` RGB in [0, 1].
    """
    v = np.asarray(values, "float64")
    v = v / max(np.max(np.abs(v)), 1e-12)
    blue, red, white = np.array([33, 102, 172]), np.array([178, 24, 43]), np.full(3, 255)
    end = np.where(v[:, None] < 0, blue, red)
    return (white + np.abs(v)[:, None] * (end - white)) / 255


def render_html(sections, path, heading):
    """Writes the text coloured by cells: a self-contained HTML file.

    Args:
        sections: `[(title, description, text, values)]`, one per
            property: the text of an excerpt and the cell's value at each
            of its characters.
        path: The file to write.
        heading: The page's heading.
    """
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(heading)}"
             f"</title></head><body style='font-family:sans-serif;max-width:60em'>"
             f"<h1>{html.escape(heading)}</h1><p>Each character's background is the cell's "
             "value once it has read the character: blue below 0, white at 0, red above, "
             "full colour at the excerpt's largest |value| (hover for the value).</p>"]
    for title, description, text, values in sections:
        spans = []
        for char, rgb, value in zip(text, colours(values), values):
            shown = " " if char == "\n" else html.escape(char)  # a line end: a coloured blank
            colour = "#" + "".join(f"{round(c * 255):02x}" for c in rgb)
            spans.append(f"<span style='background:{colour}' title='{value:+.3f}'>{shown}</span>"
                         + ("\n" if char == "\n" else ""))
        parts.append(f"<h2 style='font-size:1.1em'>{html.escape(title)}</h2>"
                     f"<p style='color:#555'>{html.escape(description)}</p>"
                     "<pre style='font-family:monospace;line-height:1.35;white-space:pre-wrap'>"
                     + "".join(spans) + "</pre>")
    parts.append("</body></html>\n")
    pathlib.Path(path).write_text("".join(parts), encoding="utf-8")


def render_png(title, text, values, path, columns=80):
    """Writes the text coloured by one cell as a PNG (matplotlib, Agg): a grid
    of characters, each on its value's colour, lines wrapped at `columns`.

    Args:
        title: The picture's title.
        text: The excerpt; a line end shows as a coloured blank.
        values: The cell's value at each of its characters.
        path: The PNG file to write.
        columns: The widest line shown; longer ones wrap.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(1, min(columns, max(len(line) + 1 for line in text.split("\n"))))
    cells, row, col = [], 0, 0  # (row, column, character, colour)
    for char, rgb in zip(text, colours(values)):
        if col == columns:
            row, col = row + 1, 0
        cells.append((row, col, "" if char == "\n" else char, rgb))
        row, col = (row + 1, 0) if char == "\n" else (row, col + 1)
    rows = cells[-1][0] + 1 if cells else 1
    figure = plt.figure(figsize=(columns * 0.105 + 0.4, rows * 0.2 + 0.7))
    axis = figure.add_axes((0.01, 0.01, 0.98, 1 - 0.55 / (rows * 0.2 + 0.7)))
    for r, c, char, rgb in cells:
        axis.add_patch(plt.Rectangle((c, r), 1, 1, color=rgb, linewidth=0))
        if char.strip():
            axis.text(c + 0.5, r + 0.55, char, ha="center", va="center",
                      family="monospace", fontsize=8.5)
    axis.set_xlim(0, columns)
    axis.set_ylim(rows, 0)
    axis.axis("off")
    figure.suptitle(title, fontsize=9, y=0.995, va="top")
    figure.savefig(path, dpi=100)
    plt.close(figure)
