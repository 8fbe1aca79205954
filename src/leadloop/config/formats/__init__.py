"""Dates as the product writes them in both languages: day first, with slashes, times on 24
hours (Django's English is month first, its Vietnamese uses dashes), so a page never mixes
"12/01/2026" (1 December) with the reports' "01/12/2026". English here is the language of the
pages, not of the country: the workspaces are in Vietnam."""
