"""A planning process for the render-worker tests: start the plan's render pool, and wait.

    python pool_driver.py CAMPAIGN [--thread]

Loads the campaign, starts the render pool that `distrib.app.pipeline.make_plan` uses (two worker
processes), takes the first checked message (so the workers are up and working), prints
``planning`` and then waits for its standard input to close: the test kills it meanwhile.
``--thread`` does all that in a thread other than the main one (the workers then cannot ask
Linux to be killed with their parent, which would tie them to that thread: they rely on the
portable watch of their parent).
"""

from __future__ import annotations

import sys
import threading

from distrib.config import load_campaign
from distrib.contacts import load_contacts
from distrib.release import load_release
from distrib.render import Renderer
from distrib.renderpool import RenderPool


def plan(path: str) -> None:
    campaign = load_campaign(path)
    book = load_contacts(campaign)
    renderer = Renderer(campaign, load_release(campaign))
    with RenderPool(renderer, book.contacts, workers=2) as pool:
        checked = pool.check("0123456789ab")
        next(checked)
        print("planning", flush=True)
        sys.stdin.read()


def main(argv: list[str]) -> int:
    if "--thread" in argv:
        worker = threading.Thread(target=plan, args=(argv[1],))
        worker.start()
        worker.join()
    else:
        plan(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
