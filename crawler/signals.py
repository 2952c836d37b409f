"""The crawler's own signals, sent through the crawler's SignalManager (`crawler.signals`).

Components that find something another one acts on say so here instead of calling it:

- `targets_found(targets: list[Target])`: new targets found outside a spider callback (the
  Sitemap: lines of a robots.txt); the spider schedules them.
- `input_failed(url: str, reason: str)`: an input failed (it makes the exit code 1); the
  archive pipeline keeps it in the run record.
- `input_noted(url: str, reason: str)`: something worth telling that is not a failure; the
  archive pipeline keeps it in the run record.
"""

targets_found = object()
input_failed = object()
input_noted = object()
