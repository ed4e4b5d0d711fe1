"""Reports: per-sample records and report.json as a run goes, score tables, finished runs read back, and their views
(terminal table, pytest-html rows, the offline HTML page and Markdown of `evalscope report`)."""
