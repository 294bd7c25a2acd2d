"""The guided path: a 50-minute class across the labs, as data (assets/class_path.toml, the
one place to edit it). Each step is a lesson link (a lab or sub-tab id and the settings a
link may set there, see each lab's ``lab_setup``), minutes, and one question for the class.
Start here shows it and walks it with Next step."""

from __future__ import annotations

import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Step:
    title: str
    minutes: int
    tab: str  # a lab or sub-tab id (see links.tab_parents)
    question: str
    params: dict[str, str] = field(default_factory=dict)  # the lesson link's settings

    @property
    def link_params(self) -> dict[str, str]:
        return {"tab": self.tab, **self.params}

    @property
    def query(self) -> str:
        return "?" + urllib.parse.urlencode(self.link_params)


PATH_FILE = Path(__file__).resolve().parent.parent / "assets" / "class_path.toml"


def load_path(file: Path = PATH_FILE) -> tuple[str, tuple[Step, ...]]:
    """The class's title and steps, read from its TOML file (a link value may be written as
    a number or true/false there: a link holds it as text, as a URL would)."""
    data = tomllib.loads(file.read_text(encoding="utf-8"))
    steps = tuple(Step(str(entry["title"]), int(entry["minutes"]), str(entry["tab"]), str(entry["question"]),
                       {name: str(value) for name, value in entry.get("params", {}).items()})
                  for entry in data["step"])
    return str(data["title"]), steps


CLASS_TITLE, PATH = load_path()


def total_minutes() -> int:
    return sum(step.minutes for step in PATH)


def path_links(base_url: str) -> str:
    """The whole path as a list a teacher can paste: one numbered line a step, its full link."""
    return "\n".join(f"{number}. {step.title} ({step.minutes} min): {base_url}{step.query}"
                     for number, step in enumerate(PATH, start=1))
