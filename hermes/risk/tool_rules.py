"""Every tool-family rule, in one list for the classifier.

Each rule knows one family of tools (git, database clients, Kubernetes,
infrastructure as code, containers, clouds, hosting platforms, publishing,
package managers, services, firewalls, accounts, secret stores) and returns None for any
other command and for harmless uses of its own. Package runners are seen
through first, so `npx vercel --prod` and `python -m twine upload` are judged
as the tool they run. `judge_input` covers what the parser alone knows: the
literal text a database client reads on its standard input.
"""

from __future__ import annotations

from hermes.risk.model import Assessment, Command, Rule, Where
from hermes.risk.options import unwrap_runner
from hermes.risk.rules_accounts import accounts_rule
from hermes.risk.rules_aws import aws_rule
from hermes.risk.rules_cloud import az_rule, gcloud_rule, gsutil_rule
from hermes.risk.rules_docker import docker_rule
from hermes.risk.rules_firewall import firewall_rule
from hermes.risk.rules_git import git_rule
from hermes.risk.rules_iac import ansible_rule, pulumi_rule, terraform_rule
from hermes.risk.rules_k8s import helm_rule, kubectl_rule
from hermes.risk.rules_ops import services_rule
from hermes.risk.rules_paas import paas_rule
from hermes.risk.rules_packages import packages_rule
from hermes.risk.rules_publish import publish_rule
from hermes.risk.rules_sql import input_rule, sql_rule
from hermes.risk.rules_vault import vault_rule


def _through_runners(rule: Rule) -> Rule:
    def judged(cmd: Command, where: Where) -> Assessment | None:
        return rule(unwrap_runner(cmd), where)

    judged.__name__ = judged.__qualname__ = getattr(rule, "__name__", "rule")
    judged.__doc__ = rule.__doc__
    return judged


RULES: list[Rule] = [
    _through_runners(rule)
    for rule in (
        git_rule,
        sql_rule,
        kubectl_rule,
        helm_rule,
        terraform_rule,
        pulumi_rule,
        ansible_rule,
        docker_rule,
        aws_rule,
        gcloud_rule,
        gsutil_rule,
        az_rule,
        paas_rule,
        publish_rule,
        packages_rule,
        services_rule,
        firewall_rule,
        accounts_rule,
        vault_rule,
    )
]


def judge_input(cmd: Command, text: str, where: Where) -> Assessment | None:
    """What `cmd` does with literal `text` on its standard input (a here-document,
    `echo "DROP TABLE x" | psql`); None when that input is harmless or not read as code."""
    return input_rule(unwrap_runner(cmd), text, where)
