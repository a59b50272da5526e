"""What the agent can do for the caller during a call: hold (R-HOLD) and the silent-caller
script (R-SILENT). Pure: events and the time in, actions out; the ACD owns one of each per call.

R-HOLD: the caller hears music; after ``hold_remind_s`` (60 s) the agent hears a reminder,
repeated every ``hold_remind_s``; on resume the caller hears "对不起，让您久等了". Hold time is
counted for the call (average handle time includes it).

R-SILENT: "您好，请问有什么可以帮您？", 5 s, "对不起，听不到您的声音，请稍后再拨！", 5 s, hang up.
Each wait starts when the prompt before it has finished playing.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EndSilent", "Hold", "HoldAction", "PlayToCall", "RemindAgent", "SilentScript"]


@dataclass(frozen=True, kw_only=True, slots=True)
class HoldAction:
    """hold: caller to music on hold; resume: the caller hears ``prompts`` and is back with the agent."""
    call_id: str
    hold: bool
    prompts: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class RemindAgent:
    """R-HOLD: the caller has been on hold a long time: a reminder tone for the agent."""
    call_id: str
    held_s: float


@dataclass(frozen=True, kw_only=True, slots=True)
class PlayToCall:
    """R-SILENT: a prompt both parties hear; the flow reports ``SilentPromptDone`` when it ends."""
    call_id: str
    prompt: str
    step: int


@dataclass(frozen=True, kw_only=True, slots=True)
class EndSilent:
    """R-SILENT: nobody spoke: hang up the call."""
    call_id: str


@dataclass(kw_only=True, slots=True)
class Hold:
    remind_s: float
    since: float | None = None
    total_s: float = 0.0
    reminders: int = 0

    @property
    def on(self) -> bool:
        return self.since is not None

    def start(self, now: float) -> None:
        self.since, self.reminders = now, 0

    def stop(self, now: float) -> float:
        held = now - (self.since or now)
        self.total_s += held
        self.since = None
        return held

    def next_reminder(self) -> float | None:
        return None if self.since is None else self.since + (self.reminders + 1) * self.remind_s

    def total(self, now: float) -> float:
        return self.total_s + (now - self.since if self.since is not None else 0.0)


SILENT_PROMPTS = ("silent-hello", "silent-bye")


@dataclass(kw_only=True, slots=True)
class SilentScript:
    wait_s: float = 5.0
    step: int = 0  # prompts started
    deadline: float | None = None  # the wait after the prompt that just finished

    def start(self) -> str:
        self.step = 1
        return SILENT_PROMPTS[0]

    def prompt_done(self, now: float) -> None:
        self.deadline = now + self.wait_s

    def wake(self) -> str | None:
        """The wait is over: the next prompt, or None when it is time to hang up."""
        self.deadline = None
        if self.step < len(SILENT_PROMPTS):
            self.step += 1
            return SILENT_PROMPTS[self.step - 1]
        return None
