"""How the import's steps reach a worker (ORG-7). The steps are Celery tasks
(``organizations/tasks.py``), and the tasks import this package to run them; so the
package never imports the tasks: ``organizations/hooks.py`` hands them over at setup
(``use``), as every hook is filled (docs/architecture.md, "Hooks")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Steps:
    validate: Any  # the check of a whole small file, or the split of a large one
    check_part: Any  # the check of one part of a large file
    finish_check: Any  # the merge of the parts' results
    run: Any  # the write


_steps: Steps | None = None


def use(steps: Steps) -> None:
    global _steps
    _steps = steps


def steps() -> Steps:
    if _steps is None:
        raise ImproperlyConfigured("organizations.hooks.connect() has not handed the import's tasks over")
    return _steps
