"""Site prompts (issue 18, R-XFER-NAME, R-GREET): agents' names and the site's own texts from the service
config, checked by the config and rendered by ``scripts/make-prompts --site``; the greeting's organisation
per queue. The e2e PBX installs tests/e2e/site-prompts/ (scripts/pbx with PBX_E2E=1)."""

import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from ari_app import config, site_prompts
from ari_app.core import prompts

REPO = Path(__file__).resolve().parents[2]
MAKE_PROMPTS = REPO / "scripts" / "make-prompts"
E2E = REPO / "tests" / "e2e"
BASE = {
    "ari": {"password": "x"},
    "queues": {"support": {}},
    "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"]}},
}


def with_(queue=None, agent=None, site=None):
    data = {**BASE, "queues": {"support": dict(queue or {})},
            "agents": {"1001": {**BASE["agents"]["1001"], **(agent or {})}}}
    if site is not None:
        data["site_prompts"] = site
    return data


def errors_of(data):
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    return e.value.errors


# -- the config ---------------------------------------------------------------------------------
def test_an_agent_with_a_name_has_a_name_prompt_one_without_has_none():
    cfg = config.parse(with_(agent={"name": "张伟", "name_pinyin": "zhang1 wei3"}))
    assert cfg.site_prompts == ("agent-name-1001",)
    assert cfg.agents["1001"].name_pinyin == "zhang1 wei3"
    assert config.parse(with_()).site_prompts == ()


def test_a_name_in_latin_letters_needs_no_pinyin():
    assert config.parse(with_(agent={"name": "Agent 1001"})).site_prompts == ("agent-name-1001",)


@pytest.mark.parametrize(("agent", "error"), [
    ({"name": "张伟"}, "agents.1001.name_pinyin: missing: Chinese characters need tone-numbered pinyin "
                      "(e.g. \"zhang1 wei3\")"),
    ({"name": "张伟", "name_pinyin": "zhang wei"}, "agents.1001.name_pinyin: every syllable needs a tone number "
                                                  "1-5: 'zhang wei'"),
    ({"name": "欧阳娜娜", "name_pinyin": "ou1 yang2 na4"}, "agents.1001.name_pinyin: 3 syllables for 4 characters "
                                                         "of '欧阳娜娜'"),
    ({"name_pinyin": "zhang1"}, "agents.1001.name_pinyin: set without name"),
])
def test_a_name_the_synthesiser_cannot_read_is_refused_with_the_reason(agent, error):
    assert errors_of(with_(agent=agent)) == [error]


def test_greeting_keys_default_to_the_core_s():
    q = config.parse(with_()).queues["support"]
    assert (q.greeting_org, q.greeting_time_of_day) == ("org-callcenter", False)


def test_greeting_org_names_a_built_in_or_site_prompt():
    site = {"org-hotline": {"zh": "湖北哲科服务热线", "pinyin": "hu2 bei3 zhe2 ke1 fu2 wu4 re4 xian4"}}
    cfg = config.parse(with_(queue={"greeting_org": "org-hotline", "greeting_time_of_day": True}, site=site))
    assert (cfg.queues["support"].greeting_org, cfg.queues["support"].greeting_time_of_day) == ("org-hotline", True)
    assert cfg.site_prompts == ("org-hotline",)
    assert errors_of(with_(queue={"greeting_org": "org-nowhere"})) == [
        "queues.support.greeting_org: no prompt 'org-nowhere' (a built-in one such as org-callcenter, or define "
        "[site_prompts.org-nowhere] zh = ...)"]
    assert errors_of(with_(queue={"greeting_org": "Org Hotline"})) == [
        "queues.support.greeting_org: must be a prompt id (lower-case letters, digits and dashes), e.g. "
        "org-callcenter, got 'Org Hotline'"]


@pytest.mark.parametrize(("site", "error"), [
    ({"hello": {"zh": "你好", "pinyin": "ni3 hao3"}},
     "site_prompts.hello: a built-in prompt (prompts/manifest.toml); replace it with a studio recording at "
     "prompts/studio/<lang>/hello.wav"),
    ({"agent-name-1001": {"zh": "X"}}, "site_prompts.agent-name-1001: agent-name-<id> is an agent's name: set "
                                       "[agents.<id>] name"),
    ({"Org": {"zh": "X"}}, "site_prompts.Org: ids are lower-case letters, digits and dashes"),
    ({"org-x": {"pinyin": "a1"}}, "site_prompts.org-x.zh: missing"),
    ({"org-x": {"zh": "X", "voice": "en"}}, "site_prompts.org-x.voice: unknown key (zh, pinyin, en)"),
    ({"org-x": "X"}, "site_prompts.org-x: must be a table with zh, pinyin and en"),
])
def test_bad_site_prompts_are_refused_with_the_reason(site, error):
    assert errors_of(with_(site=site)) == [error]


def test_english_reading_of_a_chinese_name_is_its_pinyin_without_tones():
    found, errors = site_prompts.collect({"agents": {"7": {"name": "张伟", "name_pinyin": "zhang1 wei3"}}})
    assert errors == [] and found == [site_prompts.SitePrompt(prompt_id="agent-name-7", zh="张伟",
                                                              pinyin="zhang1 wei3", en="zhang wei")]


def test_the_e2e_config_names_the_transfer_target_and_the_lab_queue_s_organisation():
    cfg = config.load(E2E / "config.toml")
    assert set(cfg.site_prompts) == {"agent-name-3002", "org-e2e", "queue-xferq"}  # xferq: the transfer's where-to
    assert cfg.queues["lab"].greeting_org == "org-e2e"
    assert not set(cfg.site_prompts) & prompts.PROMPT_IDS


# -- scripts/make-prompts --site ------------------------------------------------------------------
def make_prompts(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(MAKE_PROMPTS), *args], capture_output=True, text=True, timeout=120)


def test_the_e2e_site_prompts_are_rendered_and_current():
    r = make_prompts("--site", str(E2E / "config.toml"), "--out", str(E2E / "site-prompts"), "--check")
    assert r.returncode == 0, r.stderr
    for lang in ("zh", "en"):
        for pid in ("agent-name-3002", "org-e2e", "queue-xferq"):
            with wave.open(str(E2E / "site-prompts" / lang / f"{pid}.wav")) as w:
                assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
                assert 0.3 < w.getnframes() / 8000 < 3


def test_site_check_names_what_is_missing_and_a_bad_config(tmp_path):
    cfg = tmp_path / "site.toml"
    cfg.write_text('[agents.1001]\nname = "张伟"\nname_pinyin = "zhang1 wei3"\n')
    r = make_prompts("--site", str(cfg), "--out", str(tmp_path / "out"), "--check")
    assert r.returncode == 1 and "agent-name-1001.wav: not rendered" in r.stderr
    cfg.write_text('[agents.1001]\nname = "张伟"\n')
    r = make_prompts("--site", str(cfg), "--out", str(tmp_path / "out"), "--check")
    assert r.returncode == 2 and "agents.1001.name_pinyin: missing" in r.stderr
    r = make_prompts("--site", str(cfg))
    assert r.returncode == 2 and "--site and --out go together" in r.stderr


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox")
def test_site_render_a_latin_name_with_the_english_voice_and_remove_a_name_taken_away(tmp_path):
    cfg, out = tmp_path / "site.toml", tmp_path / "out"
    cfg.write_text('[agents.1001]\nname = "Agent 1001"\n[agents.1002]\nname = "李娜"\nname_pinyin = "li3 na4"\n')
    r = make_prompts("--site", str(cfg), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "rendered" in r.stdout and "zh/agent-name-1001.wav (en)" in r.stdout
    assert "zh/agent-name-1002.wav (cmn-latn-pinyin)" in r.stdout
    assert sorted(p.name for p in (out / "zh").iterdir()) == ["agent-name-1001.wav", "agent-name-1002.wav"]
    cfg.write_text('[agents.1002]\nname = "李娜"\nname_pinyin = "li3 na4"\n')
    r = make_prompts("--site", str(cfg), "--out", str(out))
    assert r.returncode == 0 and "removed" in r.stdout
    assert sorted(p.name for p in (out / "zh").iterdir()) == ["agent-name-1002.wav"]
    assert make_prompts("--site", str(cfg), "--out", str(out), "--check").returncode == 0


def test_site_out_may_not_be_the_built_in_prompts_directory(tmp_path):
    """Review finding (issue 18): `--site CONFIG --out prompts` swept prompts/<lang>/*.wav as orphans."""
    cfg = tmp_path / "site.toml"
    cfg.write_text('[agents.1001]\nname = "Agent 1001"\n')
    before = sorted((REPO / "prompts" / "zh").glob("*.wav"))
    for out in (REPO / "prompts", REPO / "prompts" / "site", Path("prompts")):
        r = subprocess.run([sys.executable, str(MAKE_PROMPTS), "--site", str(cfg), "--out", str(out)],
                           capture_output=True, text=True, timeout=120, cwd=REPO)
        assert r.returncode == 2 and "built-in prompts' directory" in r.stderr, (out, r.stderr)
    assert sorted((REPO / "prompts" / "zh").glob("*.wav")) == before
    assert not (REPO / "prompts" / "site").exists()


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox")
def test_site_render_removes_only_what_it_rendered(tmp_path):
    """Review finding (issue 18): a file in DIR that this tool did not make (not in DIR/.rendered.json)
    survives a render and is not reported by --check; one it made for a name taken away is removed."""
    cfg, out = tmp_path / "site.toml", tmp_path / "out"
    (out / "zh").mkdir(parents=True)
    foreign = [out / "zh" / "someone-else.wav", out / "flat.wav", out / "studio" / "zh" / "agent-name-9.wav"]
    for f in foreign:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"RIFF not ours")
    cfg.write_text('[agents.1001]\nname = "Agent 1001"\n[agents.1002]\nname = "Agent 1002"\n')
    assert make_prompts("--site", str(cfg), "--out", str(out)).returncode == 0
    cfg.write_text('[agents.1002]\nname = "Agent 1002"\n')
    r = make_prompts("--site", str(cfg), "--out", str(out), "--check")
    assert r.returncode == 1 and "agent-name-1001.wav: not in the config" in r.stderr
    assert "someone-else" not in r.stderr and "flat.wav" not in r.stderr
    r = make_prompts("--site", str(cfg), "--out", str(out))
    assert r.returncode == 0 and "removed" in r.stdout and "agent-name-1001" in r.stdout
    assert all(f.read_bytes() == b"RIFF not ours" for f in foreign)
    assert sorted(p.name for p in (out / "zh").iterdir()) == ["agent-name-1002.wav", "someone-else.wav"]
    assert make_prompts("--site", str(cfg), "--out", str(out), "--check").returncode == 0


# -- at every ARI connect: only the site prompts Asterisk has --------------------------------------
class SoundsAri:
    """GET /sounds/<id>: 404 for the ids in ``missing``, an outage for those in ``down``."""

    def __init__(self, missing=(), down=()):
        self.missing, self.down, self.asked = set(missing), set(down), []

    async def request(self, method, path, **kw):
        from ari_app.ari import AriNotFound, AriUnavailable
        self.asked.append((method, path))
        pid = path.removeprefix("/sounds/callcenter%2F")
        if pid in self.missing:
            raise AriNotFound(404, method, path, "Sound not found")
        if pid in self.down:
            raise AriUnavailable(method, path, "timeout")
        return {"id": f"callcenter/{pid}"}


async def test_present_keeps_what_asterisk_has_and_logs_what_is_missing():
    from structlog.testing import capture_logs

    from ari_app.flows.site_prompts import present
    ari = SoundsAri(missing={"agent-name-1002"}, down={"org-x"})
    with capture_logs() as logs:
        found = await present(ari, ("agent-name-1001", "agent-name-1002", "org-x"))
    assert found == {"agent-name-1001", "org-x"}  # an outage keeps it: better a name that may play than none
    assert ari.asked[0] == ("GET", "/sounds/callcenter%2Fagent-name-1001")
    [missing] = [e for e in logs if e["event"] == "prompts.site_missing"]
    assert missing["prompts"] == ["agent-name-1002"] and "make-prompts --site" in missing["hint"]


async def test_the_service_tells_the_core_only_of_installed_names(tmp_path):
    from ari_app.app import Service
    from ari_app.store import Store
    cfg = config.parse(with_(agent={"name": "张伟", "name_pinyin": "zhang1 wei3"}))
    svc = Service(cfg, store=Store(tmp_path / "state.db"), ari=SoundsAri(missing={"agent-name-1001"}),
                  clock=lambda: 1000.0)
    assert svc.acd.site_prompts == {"agent-name-1001"}

    async def nothing():
        return None
    svc._check_asterisk = nothing
    svc._resync = nothing
    await svc._on_connect()
    assert svc.acd.site_prompts == frozenset()  # not installed: the transfer says the ID alone
    svc.ari.missing.clear()
    await svc._on_connect()
    assert svc.acd.site_prompts == {"agent-name-1001"}
