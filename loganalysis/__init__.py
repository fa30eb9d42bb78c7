"""Log analysis: parse operator-configured log files into entries, page through them by byte offset,
poll for what was appended, count by level over time. Streams files; never reads one whole. No web
imports here."""
