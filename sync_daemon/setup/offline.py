"""The offline checks of a configuration: one list for ``check-config`` and ``test-connection``.

Everything that can be known without a request: the values the settings refuse, the missing
credentials, the connections' pre-flight (placeholders, bullets, stray spaces, a URL pointing into
WordPress …, the same ``Finding`` each connection's check starts with), a state directory that
cannot be created, and warnings (a loose config file mode, a listener on every address). The unit's
``ExecStartPre=`` runs ``check-config``, so what is listed here stops a start before it fails later.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sync_daemon.config import SettingsBase, check_settings, sections_with_connections
from sync_daemon.core.files import check_config_permissions, state_dir_problem
from sync_daemon.setup.checks import Context, connections, default_names, preflight


@dataclass
class OfflineReport:
    """What the offline checks found: problems (by section, "" for the rest) and warnings."""

    settings: SettingsBase
    path: Path | None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (section or "", one line)
    warnings: list[str] = field(default_factory=list)

    def by_section(self) -> dict[str, list[str]]:
        """The problems of each connection (the shop, a platform), for test-connection's lines."""
        found: dict[str, list[str]] = {}
        for section, line in self.problems:
            if section:
                found.setdefault(section, []).append(line)
        return found

    def lines(self, sections: set[str] | None = None) -> list[str]:
        """The problems' lines, all or those of some sections only."""
        return [line for section, line in self.problems if sections is None or section in sections]


def _section_of(line: str, known: tuple[str, ...]) -> str:
    """The connection a problem line is about ("woocommerce.url: …" → woocommerce), else ""."""
    head = line.split(":", 1)[0].split(" ", 1)[0].split(".", 1)[0]
    return head if head in known else ""


def check_offline(config_file: str | os.PathLike[str] | None) -> OfflineReport:
    """Every problem of the configuration that needs no request; raise ConfigurationError for an unreadable file."""
    settings, path, lines = check_settings(config_file)
    known = sections_with_connections(type(settings))
    report = OfflineReport(settings, path, [(_section_of(line, known), line) for line in lines])
    context = Context(config_file=path)
    for name in default_names(settings):
        for finding in preflight(connections(settings)[name], settings, context):
            if any(line.startswith(finding.field) for line in lines):
                continue  # the settings already said what is wrong with this value
            if finding.fatal:
                report.problems.append((name, finding.text()))
            else:
                report.warnings.append(finding.text())
    if not settings.ledger.shared:
        problem = state_dir_problem(settings.resolved_state_dir())
        if problem:
            report.problems.append(("", problem))
    report.warnings.extend(settings.server.warnings())
    if path is not None:
        loose = check_config_permissions(path)
        if loose:
            report.warnings.append(loose)
    return report
