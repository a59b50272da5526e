"""What the agent can do for the caller during a call: hold (R-HOLD, with R-WAIT's apology) and the
silent-caller script (R-SILENT). Pure: events and the time in, actions out; the ACD owns one of each per call.

R-HOLD: the caller hears music; after ``hold_remind_s`` (60 s) the agent hears a reminder,
repeated every ``hold_remind_s``; on resume the caller hears "对不起，让您久等了". Hold time is
counted for the call (average handle time includes it).

R-WAIT in a call: "用户等待超过10秒，应说：'对不起，请稍等！'". A caller on hold for ``hold_apology_s``
(10 s) hears "对不起，请稍等！" once, then the music again. Each hold period has its own apology: a caller
put on hold a second time waits again, and is told again after 10 s of that hold (0 = off).

R-SILENT: "您好，请问有什么可以帮您？", 5 s, "对不起，听不到您的声音，请稍后再拨！", 5 s, hang up
(``standard``); the hotline's variant (``hotline``): "您好！请问有什么可以帮助您？", 5 s, the same again,
5 s, "对不起，您的电话没有声音，请您换一部电话再次打来，好吗？再见！", 5 s, hang up.
Each wait starts when the prompt before it has finished playing. The script starts by the agent's key, or
by itself (``TalkWatch``) when talk detection heard nothing from the caller for ``silent_detect_s`` after the
bridge; the caller speaking stops it at any step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DetectTalk", "EndSilent", "HOLD_APOLOGY_S", "Hold", "HoldAction", "HoldApology", "PlayToCall",
           "RemindAgent", "SILENT_DETECT_S", "SILENT_SCRIPTS", "SilentScript", "StopSilent", "TalkWatch"]

HOLD_APOLOGY_S = 10.0  # R-WAIT: "用户等待超过10秒" (the one default: QueueRules and the config use it)
SILENT_DETECT_S = 0.0  # R-SILENT by talk detection: off unless a queue turns it on
# R-SILENT: the prompts of each variant, in order; after the last one's wait the call is hung up.
SILENT_SCRIPTS: dict[str, tuple[str, ...]] = {
    "standard": ("silent-hello", "silent-bye"),
    "hotline": ("silent-hello", "silent-hello", "silent-no-sound"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class HoldAction:
    """hold: caller to music on hold; resume: the caller hears ``prompts`` and is back with the agent."""
    call_id: str
    hold: bool
    prompts: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class HoldApology:
    """R-WAIT: the caller on hold hears ``prompts`` ("对不起，请稍等！"), then the music again."""
    call_id: str
    prompts: tuple[str, ...] = ("wait-apology",)


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
class StopSilent:
    """R-SILENT: the caller spoke: the prompt playing stops (no hang-up follows)."""
    call_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class EndSilent:
    """R-SILENT: nobody spoke: hang up the call."""
    call_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class DetectTalk:
    """R-SILENT: turn talk detection on for the caller's leg (``CallerSpoke`` when the caller speaks)."""
    call_id: str


@dataclass(kw_only=True, slots=True)
class Hold:
    remind_s: float
    apology_s: float = HOLD_APOLOGY_S  # R-WAIT (0 = off)
    since: float | None = None
    total_s: float = 0.0
    reminders: int = 0
    apologised: bool = False  # this hold period's apology is due no more

    @property
    def on(self) -> bool:
        return self.since is not None

    def start(self, now: float) -> None:
        self.since, self.reminders, self.apologised = now, 0, False

    def stop(self, now: float) -> float:
        held = now - (self.since or now)
        self.total_s += held
        self.since = None
        return held

    def next_reminder(self) -> float | None:
        return None if self.since is None else self.since + (self.reminders + 1) * self.remind_s

    def next_apology(self) -> float | None:
        """R-WAIT: when this hold period's apology is due (None: not on hold, told already, or off)."""
        if self.since is None or self.apologised or self.apology_s <= 0:
            return None
        return self.since + self.apology_s

    def total(self, now: float) -> float:
        return self.total_s + (now - self.since if self.since is not None else 0.0)


@dataclass(kw_only=True, slots=True)
class TalkWatch:
    """R-SILENT by talk detection: from the bridge, ``detect_s`` without a word from the caller starts the
    script. Ends for good when the caller speaks, the script starts (either way), or it fires."""
    deadline: float | None

    @classmethod
    def after_bridge(cls, bridged_at: float, detect_s: float) -> "TalkWatch | None":
        return cls(deadline=bridged_at + detect_s) if detect_s > 0 else None

    def due(self, now: float) -> bool:
        return self.deadline is not None and self.deadline <= now


@dataclass(kw_only=True, slots=True)
class SilentScript:
    wait_s: float = 5.0
    prompts: tuple[str, ...] = field(default=SILENT_SCRIPTS["standard"])
    step: int = 0  # prompts started
    deadline: float | None = None  # the wait after the prompt that just finished

    def start(self) -> str:
        self.step = 1
        return self.prompts[0]

    def prompt_done(self, now: float) -> None:
        self.deadline = now + self.wait_s

    def wake(self) -> str | None:
        """The wait is over: the next prompt, or None when it is time to hang up."""
        self.deadline = None
        if self.step < len(self.prompts):
            self.step += 1
            return self.prompts[self.step - 1]
        return None
