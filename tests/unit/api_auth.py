"""The API tests' tokens: an agent (alice, 1001), a supervisor (sam) and ops (olga), and their headers."""

from ari_app.api import ApiSettings, ApiToken, hash_token

TOKENS = {name: f"{name}-token-" + name[0] * 32 for name in ("alice", "sam", "olga")}
TOKEN_LIST = (
    ApiToken(name="alice", role="agent", agent_id="1001", sha256=hash_token(TOKENS["alice"])),
    ApiToken(name="sam", role="supervisor", sha256=hash_token(TOKENS["sam"])),
    ApiToken(name="olga", role="ops", sha256=hash_token(TOKENS["olga"])),
)
SETTINGS = ApiSettings(listen_port=0, tokens=TOKEN_LIST)


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}
