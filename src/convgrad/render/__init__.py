"""How a solution is shown: the words and the formats, never the maths.

words.py    the sentences of the walkthrough and the tables, in English and Chinese
naming.py   how an entry is named (x11, dL/dw[1,1,2,2], b1_new), as `check` names it
terminal.py rich tables and text for the terminal (the only module here that imports rich)
report.py   check's report as plain lines (a class's worth of files in a pipe pays no rich)
moodle.py   generate's Moodle XML quiz (one Cloze question per variant)

Importing this package imports none of them: each command loads what it writes.
"""
