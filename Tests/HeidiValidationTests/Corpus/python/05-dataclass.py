from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Task:
    title: str
    done: bool = False
    tags: List[str] = field(default_factory=list)
    parent: Optional["Task"] = None

    def mark_done(self) -> None:
        self.done = True
