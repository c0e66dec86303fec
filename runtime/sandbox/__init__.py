"""Lambda execution: a fresh, isolated sandbox per invocation, with a real timeout, memory limit and CPU cap.

Public API (everything else is internal):
    ports.SandboxPort, FunctionSpec, InvocationResult, SandboxThrottled, SandboxUnavailable
    manager.SandboxManager          the real port (root, bubblewrap, cgroups); `async with` or start()/close()
    fake.RecordingSandbox           a recording port for service tests without root
    rootfs.rootfs_from_image        a runtime image exported once to a directory, for FunctionSpec.rootfs
Design: one zygote per function version (bwrap, unprivileged uid, Init done once), sandboxes forked from
it ahead of time, each with its own user/mount/pid/ipc/uts/net namespaces, /tmp and cgroup, used once.
"""
