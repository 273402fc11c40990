"""What the browser tests do again and again: save a form, wait for a toast or a badge, type in a console."""

GUEST_IMAGE = "images/nimbo-guest.qcow2"


def save(page):
    page.click("input[name=_save]")
    page.wait_for_load_state()
    errors = page.locator(".errornote, .errorlist")
    assert errors.count() == 0, errors.all_inner_texts()


def choose(page, select, text):
    """Select the option whose label contains `text`."""
    value = page.locator(f"{select} option", has_text=text).first.get_attribute("value")
    page.select_option(select, value=value)


def toast(page, text, timeout=60000):
    """The toast saying `text`. A "... finished" job that a page opened at ends before that page's socket
    is up may never toast there: its live job page then shows it succeeded, which is the same news."""
    toasted = page.locator(".nimbo-toast", has_text=text)
    if text.endswith(" finished") and "/portal/jobs/" in page.url:
        toasted = toasted.or_(page.locator('[data-state="succeeded"]'))
    toasted.first.wait_for(timeout=timeout)


def badge(page, pk, state, timeout=90000):
    """Wait, without reloading, for the state badge of object `pk` to read `state`."""
    page.wait_for_function(
        "([pk, state]) => [...document.querySelectorAll(`.nimbo-badge[data-pk='${pk}']`)]"
        ".some(b => b.dataset.state === state || b.dataset.state === 'Error')",
        arg=[pk, state], timeout=timeout)
    shown = page.locator(f".nimbo-badge[data-pk='{pk}']").first.get_attribute("data-state")
    assert shown == state, (shown, page.locator("#vm-error, .errornote").all_inner_texts())


def terminal_text(page):
    return page.evaluate("""() => {
        const b = window.nimboTerminal.buffer.active; const lines = [];
        for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
        return lines.join("\\n"); }""")


def terminal(page, command, expect, timeout=20000):
    """Type `command` in the VM page's console and wait until `expect` appears on a line of its own."""
    page.click("#vm-terminal")
    page.keyboard.type(command)
    page.keyboard.press("Enter")
    page.wait_for_function("""(expect) => {
        const b = window.nimboTerminal.buffer.active;
        for (let i = 0; i < b.length; i++) if (b.getLine(i).translateToString(true).trim() === expect) return true;
        return false; }""", arg=expect, timeout=timeout)


def api(page, path):
    response = page.request.get(path)
    assert response.ok, (path, response.status)
    return response.json()


def only(page, path, name):
    return next(o for o in api(page, path)["results"] if o["name"] == name)


def image_path():
    """The guest image the browser scenarios add, built from Debian packages first if it is not there (as
    the API scenarios do): a browser test never skips for want of it."""
    from pathlib import Path

    from apps.infra.guest_image import ensure_built

    ensure_built()
    path = Path(__file__).resolve().parents[2] / GUEST_IMAGE
    return str(path) if path.exists() else None


def base_cloud(page, portal):
    """Scenario 01's steps 2-4 and 6-8 by clicking (no primary storage: namespace guests run without a
    disk): ZONE1, CLUSTER1 (Sandbox) from the wizard, HOST1, BACKUP-STORAGE1, the two images, 512M-512HZ."""
    from tests.support.sandbox import free_ip

    page.goto("/infra/zone/add/")
    page.fill("#id_name", "ZONE1")
    save(page)
    page.goto("/infra/cluster/add/")
    page.fill("#id_name", "CLUSTER1")
    page.select_option("#id_zone", label="ZONE1")
    page.select_option("#id_hypervisor_type", value="Sandbox")
    for step in ("storage", "l2", "finish"):
        page.click(f"button[value={step}]")
        page.locator(f"[data-step={step if step != 'finish' else 'done'}]").wait_for()
    page.goto("/infra/host/add/")
    page.fill("#id_name", "HOST1")
    page.select_option("#id_cluster", label="CLUSTER1")
    page.fill("#id_management_ip", free_ip())
    page.fill("#id_password", "s3cret-Pw")
    save(page)
    page.goto("/storage/backupstorage/add/")
    page.fill("#id_name", "BACKUP-STORAGE1")
    page.select_option("#id_type", value="Local")
    page.fill("#id_folder", str(portal["var"] / "backupStorage"))
    page.select_option("#id_zones_from", label="ZONE1")
    page.click("#id_zones_add")
    save(page)
    toast(page, "addBackupStorage finished")
    for name, system in (("zs-sample-image", False), ("VIRTUAL-ROUTER", True)):
        page.goto("/images/image/add/")
        page.fill("#id_name", name)
        page.fill("#id_url", image_path())
        page.select_option("#id_format", value="qcow2")
        if system:
            page.check("#id_system")
        page.select_option("#id_backup_storages", label="BACKUP-STORAGE1")
        save(page)
    page.goto("/compute/instanceoffering/add/")
    page.fill("#id_name", "512M-512HZ")
    page.fill("#id_cpu_num", "1")
    page.fill("#id_cpu_speed", "512")
    page.fill("#id_memory_size", "512M")
    save(page)
    page.goto("/infra/host/")
    badge(page, only(page, "/api/v1/hosts/", "HOST1")["uuid"], "Connected", timeout=120000)
    page.goto("/images/image/")
    badge(page, only(page, "/api/v1/images/", "zs-sample-image")["uuid"], "Ready")


def l2_attached(page, name, vlan=None):
    page.goto("/networks/l2network/add/")
    page.fill("#id_name", name)
    page.select_option("#id_zone", label="ZONE1")
    if vlan:
        page.select_option("#id_type", value="L2VlanNetwork")
        page.fill("#id_vlan", str(vlan))
    page.fill("#id_physical_interface", "eth0")
    save(page)
    page.click(f"#result_list a:text-is('{name}')")
    page.click("text=Attach to a cluster")
    page.select_option("#id_cluster", label="CLUSTER1")
    page.click("input[type=submit]")
    toast(page, "attachL2NetworkToCluster finished")


def new_vm(page, name, hostname, l3, kind="Namespace"):
    """The New VM form; waits on the VM's page until its badge reads Running. Its uuid."""
    page.goto("/compute/vminstance/add/")
    page.fill("#id_name", name)
    page.fill("#id_hostname", hostname)
    choose(page, "#id_instance_offering", "512M-512HZ")
    page.select_option("#id_image", label="zs-sample-image")
    page.locator("#id_l3_networks label", has_text=l3).locator("input").check()
    page.select_option("#id_guest_kind", value=kind)
    save(page)
    uuid = page.url.rstrip("/").split("/")[-2]
    try:
        badge(page, uuid, "Running", timeout=300000)
    except Exception:  # noqa: BLE001 - say why, from the VM's page
        raise AssertionError(page.locator("#vm-summary, #vm-jobs").all_inner_texts()) from None
    return uuid


def open_console(page, vm):
    page.goto(f"/compute/vminstance/{vm}/change/")
    page.wait_for_selector("#vm-terminal[data-connected='1']", timeout=20000)

