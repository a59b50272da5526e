import os
import stat

from ari_app.core.timeline import Fact, TimelineEntry
from ari_app.store import AgentSession, Store


def test_agent_sessions_survive_reopen(tmp_path):
    path = tmp_path / "state.db"
    s = Store(path)
    s.save_agent(AgentSession(agent_id="1001", state="paused", since=5.0, reason="lunch", interface="PJSIP/1001"))
    s.save_agent(AgentSession(agent_id="1001", state="available", since=9.0, reason="", interface="PJSIP/1001",
                              calls_taken=3))
    s.close()
    again = Store(path)
    assert again.agents() == {"1001": AgentSession(agent_id="1001", state="available", since=9.0, reason="",
                                                   interface="PJSIP/1001", calls_taken=3)}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # R-PRIVACY
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_timeline_is_appended_in_order(tmp_path):
    s = Store(tmp_path / "state.db")
    s.append_facts([("c1", TimelineEntry(at=1.0, fact=Fact.ENTERED_QUEUE)),
                    ("c2", TimelineEntry(at=1.5, fact=Fact.ENTERED_QUEUE))])
    s.append_facts([("c1", TimelineEntry(at=2.0, fact=Fact.HANGUP, agent="1001", detail={"by": "caller"}))])
    assert [(e.fact, e.detail) for e in s.timeline("c1")] == [(Fact.ENTERED_QUEUE, {}), (Fact.HANGUP, {"by": "caller"})]
