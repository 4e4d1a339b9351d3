"""How a solution is shown: the words and the formats, never the maths.

words.py (the sentences, English and Chinese) and naming.py (how an entry is named, as
`check` names it) serve every format; terminal.py writes the terminal's text (the only module
here that imports rich when it is imported); document.py lays the trace out for markdown.py,
latex.py and html.py (texmath.py writes their formulas), formats.py picks one by name;
crop.py decides how much of a large problem is shown. report.py, class_report.py and
compare.py write check's and compare's reports; moodle.py, prairielearn.py and
convention_words.py generate's questions. README.md's Development section says more of each.

Importing this package imports none of them: each command loads what it writes.
"""
