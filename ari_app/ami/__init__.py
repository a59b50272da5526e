"""The AMI link: what ARI has no equivalent of.

ARI sees only the calls that enter Stasis. An agent who dials ``9<number>``
goes from the dialplan straight to the trunk; the only record of that call is
Asterisk's CDR, which AMI sends as a ``Cdr`` event when the call ends
(R-KPI outbound per day, 日呼出量).

* ``AmiLink`` keeps one AMI connection up (panoramisk), forever: login, the
  events it was given handlers for, and a watchdog that pings and reconnects
  with back-off when a Ping is not answered in time. Log events
  ``ami.connected``, ``ami.disconnected`` (with the reason, once per lost
  connection), ``ami.connect_failed`` (once per outage), ``ami.reconnecting``.
  AMI down never touches a call: the link only reports.
* ``OutboundRecorder`` turns each ``Cdr`` event into a stored
  ``OutboundCall`` and a ``call.outbound`` bus event (``core.cdr`` decides);
  ``outbound_link(...)`` is the two wired together, as the service runs them.
"""

from ._link import AmiConnection, AmiError, AmiLink, ConnectFn
from ._outbound import OutboundRecorder, outbound_link

__all__ = ["AmiConnection", "AmiError", "AmiLink", "ConnectFn", "OutboundRecorder", "outbound_link"]
