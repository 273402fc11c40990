"""The applier's decision alone: (plan, the host's current state) -> the restore payloads it runs.

No root and no namespace: `plan_changes` runs nothing (as Neutron tests its iptables manager).
What the payloads do to a real kernel is tested in test_dataplane.py.
"""

from apps.secgroups.compile import (
    HostState,
    Nic,
    Rule,
    Scope,
    compile_host,
    group_chains,
    ipset_name,
    l2_chain,
    nic_chains,
)
from workers.host.firewall import plan_changes

NIC = "5b1d6a3e-7c1f-4a8e-9d1e-0a1b2c3d4e5f"
EMPTY = {"sets": {}}
SSH = Rule("ssh", "ingress", "IPv4", 6, 22, 22)
WEB = Rule("web", "ingress", "IPv4", 6, 80, 80)


def plan_for(rules, members=None, groups=("g",), scope=None):
    nic = Nic(NIC, "vnic0", "52:54:00:aa:bb:cc", ("10.0.0.2",), groups)
    return compile_host(HostState(nics=[nic], rules={"g": rules}, members=members or {}), scope)


def lines(payload):
    return payload.splitlines()


def test_an_empty_host_gets_every_chain_declared_filled_and_its_one_jump():
    plan = plan_for([SSH])
    todo = plan_changes(plan, EMPTY)
    v4 = plan["v4"]["chains"]
    expected = ["*filter", *(f":{name} - [0:0]" for name in v4)]
    for rules in v4.values():
        expected += rules
    assert lines(todo.restores["v4"]) == [*expected, "-I FORWARD 1 -j nimbo-FORWARD", "COMMIT"]
    assert lines(todo.restores["eb"]) == [
        "*nat", ":nimbo-PREROUTING RETURN", f":{l2_chain(NIC)} RETURN",
        f"-A nimbo-PREROUTING -i vnic0 -j {l2_chain(NIC)}", *plan["eb"]["chains"][l2_chain(NIC)],
        "-I PREROUTING 1 -j nimbo-PREROUTING"], "ebtables: no counters, no COMMIT"
    assert todo.chains == [*v4, *plan["v6"]["chains"], *plan["eb"]["chains"]]
    assert todo.sets == "" and todo.destroy_sets == [] and todo.removed == {"v4": [], "v6": []}
    assert todo.written["v4"] == v4


def test_applying_the_same_plan_again_changes_nothing():
    plan = plan_for([SSH], members={"g": ["10.0.0.2"]})
    done = plan_changes(plan, EMPTY).state
    again = plan_changes(plan, done)
    assert again.restores == {"v4": "", "v6": "", "eb": ""} and again.sets == ""
    assert again.chains == [] and again.changed_sets == [] and again.state == done


def test_a_rule_added_rewrites_its_groups_chain_only():
    done = plan_changes(plan_for([SSH]), EMPTY).state
    plan = plan_for([SSH, WEB])
    gin = group_chains("g")[0]
    todo = plan_changes(plan, done)
    assert lines(todo.restores["v4"]) == ["*filter", f":{gin} - [0:0]", *plan["v4"]["chains"][gin], "COMMIT"]
    assert todo.restores["v6"] == "" and todo.restores["eb"] == ""
    assert todo.chains == [gin] and todo.written == {"v4": {gin: plan["v4"]["chains"][gin]}, "v6": {}}


def test_a_long_chain_remembered_is_edited_with_one_line():
    done = plan_changes(plan_for([SSH]), EMPTY).state
    plan = plan_for([SSH, WEB])
    gin = group_chains("g")[0]
    old = plan_for([SSH])["v4"]["chains"][gin]
    asked = []

    def remembered(family, chain, digest):
        asked.append((family, chain, digest))
        return old if chain == gin else None

    todo = plan_changes(plan, done, remembered)
    assert asked == [("v4", gin, done["v4"]["chains"][gin])], "only the chains that changed are looked up"
    assert lines(todo.restores["v4"]) == ["*filter", plan["v4"]["chains"][gin][-1], "COMMIT"], "no declaration"


def test_a_nic_leaving_its_last_group_takes_every_chain_set_and_jump_away():
    rules = [Rule("r", "ingress", "IPv4", 6, 22, 22, remote_group_id="g")]
    done = plan_changes(plan_for(rules, members={"g": ["10.0.0.2"]}), EMPTY).state
    todo = plan_changes(plan_for([], groups=()), done)
    chains = list(done["v4"]["chains"])
    assert lines(todo.restores["v4"]) == [
        "*filter", *(f":{name} - [0:0]" for name in chains), "-D FORWARD -j nimbo-FORWARD",
        *(f"-X {name}" for name in chains), "COMMIT"], "emptied, unhooked, then removed: in one transaction"
    assert lines(todo.restores["eb"])[-3:] == [
        "-D PREROUTING -j nimbo-PREROUTING", "-X nimbo-PREROUTING", f"-X {l2_chain(NIC)}"]
    assert todo.destroy_sets == [ipset_name("g", "v4")] and todo.removed["v4"] == chains
    assert todo.state == {"sets": {}, **{f: {"chains": {}, "jump": False} for f in ("v4", "v6", "eb")}}


def test_a_membership_change_swaps_the_set_in_whole():
    rules = [Rule("r", "ingress", "IPv4", 6, 22, 22, remote_group_id="g")]
    done = plan_changes(plan_for(rules, members={"g": ["10.0.0.2"]}), EMPTY).state
    todo = plan_changes(plan_for(rules, members={"g": ["10.0.0.2", "10.0.0.9"]}), done)
    name = ipset_name("g", "v4")
    assert lines(todo.sets) == [
        f"create {name} hash:ip family inet -exist", f"create {name}t hash:ip family inet -exist",
        f"flush {name}t", f"add {name}t 10.0.0.2", f"add {name}t 10.0.0.9", f"swap {name}t {name}",
        f"destroy {name}t"]
    assert todo.changed_sets == [name] and todo.restores == {"v4": "", "v6": "", "eb": ""}


def test_a_plan_of_part_of_the_host_leaves_the_other_chains_alone():
    other = "nimbo-i-0123456789ab"
    done = plan_changes(plan_for([SSH]), EMPTY).state
    done["v4"]["chains"][other] = "digest of a chain the scope does not name"
    plan = plan_for([SSH, WEB], scope=Scope(groups=frozenset({"g"})))
    todo = plan_changes(plan, done)
    assert other not in todo.restores["v4"] and todo.state["v4"]["chains"][other] == done["v4"]["chains"][other]
    assert todo.chains == [group_chains("g")[0]]
    assert set(nic_chains(NIC)) <= set(todo.state["v4"]["chains"]), "chains out of the change stay recorded"
