"""floodgate_mitogen_linear: mitogen's mitogen_linear strategy without mitogen's CPU pinning on small controllers.

mitogen (ansible_mitogen.affinity.FixedPolicy) pins processes to CPUs. On a controller with fewer than 4 CPUs it
reserves CPU 0 for its connection multiplexer and pins the Ansible top-level process, every worker process and
every ssh client to the other CPUs: on 2 CPUs, all of them to CPU 1. Measured on a 2-CPU controller
(docs/fleet.md): a play of 10 no-op tasks over 50 hosts took 11.1-11.7 s pinned, 7.8-8.5 s unpinned, for the
same CPU time. With 4 or more CPUs mitogen's own placement is kept.

It also keeps Jinja's compiled code: Ansible compiles a template each time it renders one, in a worker process
forked per host and task, so every host paid again for every template of every task - 40% of the workers' CPU in a
50-edge re-run of mitigate.yml (17.7 of 43.6 CPU s, docs/fleet.md). Here the play's templates (task keywords and
arguments, play and role variables, vars_files, inventory values, included files) are compiled once in the
controller's process before its workers fork, and each worker reuses that code (see _JinjaCodeCache); so are the
template files of the play's roles and of the play's own folder (templates/**/*.j2) with the settings of the
`template` lookup at its defaults, which every host otherwise compiled again. FLOODGATE_JINJA_CACHE_LOG=FILE appends
a JSON line per template compiled (not taken from the cache), with the process and whether it was this warm-up,
to check what the workers still compile. And each forked worker leaves what it inherited from the controller out of
its garbage collections (gc.freeze() in the child; see _freeze_inherited_objects).

Use it as mitogen_linear is used (docs/fleet.md "Speed settings"): ANSIBLE_STRATEGY=floodgate_mitogen_linear with
this folder and ansible_mitogen's plugins/strategy on ANSIBLE_STRATEGY_PLUGINS (lab/fleet/bench_fleet.py
mitogen_env() sets both). Needs the mitogen package (requirements.txt).
"""

from __future__ import annotations

import gc
import json
import operator
import os
import pathlib
import threading
import types
import typing as t

import ansible.plugins.strategy.linear
import ansible.vars.manager
import ansible_mitogen.affinity
import ansible_mitogen.module_finder
import ansible_mitogen.planner
import ansible_mitogen.strategy
import ansible_mitogen.transport_config
import mitogen.master
import mitogen.parent
from ansible._internal._display_utils import DeferredWarningContext
from ansible._internal._templating import _engine, _jinja_bits
from ansible._internal._templating._lazy_containers import _AnsibleLazyTemplateDict, _AnsibleLazyTemplateMixin
from ansible.errors import AnsibleError
from ansible.executor.task_result import _RawTaskResult
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.block import Block
from ansible.playbook.task import Task
from ansible.plugins.connection.ssh import Connection as SshConnection
from ansible.plugins.loader import Jinja2Loader
from ansible.utils.display import Display
from ansible.utils.path import makedirs_safe, unfrackpath
from jinja2 import environment as jinja_environment

display = Display()

DOCUMENTATION = r"""
name: floodgate_mitogen_linear
short_description: mitogen_linear without CPU pinning on controllers with fewer than 4 CPUs
description:
  - mitogen's linear strategy (one Python interpreter per host for the whole run). On controllers with fewer
    than 4 CPUs, mitogen's CPU pinning (which leaves the Ansible process, its workers and ssh one CPU out of
    two) is turned off; the processes run wherever the kernel schedules them.
  - floodgate's own modules (those importing ansible.module_utils.floodgate) run in the host's mitogen
    interpreter instead of a child forked per call (FLOODGATE_MITOGEN_FORK=1 forks them as mitogen does).
  - Jinja's compiled code is kept per template source (and the settings it was compiled with), and the play's
    templates are compiled once before the workers fork, so that a worker per host and task reuses it instead
    of compiling every template again. That includes the files in the templates/ folders of the play's roles
    and of the play itself, compiled as the template lookup compiles them with its default settings.
  - Tasks whose condition is false for a host are skipped in the controller's process, without a worker
    (FLOODGATE_SKIP_AHEAD=0 forks one as Ansible does).
  - Hosts keep the compiled code of what the controller sends them in C(~/.cache/floodgate-mitogen) and compile
    floodgate's module_utils once per run (FLOODGATE_MITOGEN_PYC_CACHE=0, FLOODGATE_MITOGEN_CODE_CACHE=0).
  - mitogen's ssh gets the ControlPath Ansible's ssh connection would add for the ControlPersist in ssh_args, so
    a host's SSH connection is kept between runs as Ansible keeps it (FLOODGATE_MITOGEN_SSH_MUX=0).
  - mitogen's scan of a module's module_utils compiles each file once per run, the play's vars_files are
    parsed once per run, not for every host and task, and a filter's or test's plugin is looked up once per
    process, not at each use in a template (FLOODGATE_MITOGEN_SCAN_CACHE=0, FLOODGATE_VARS_FILES_CACHE=0,
    FLOODGATE_PLUGIN_LOOKUP_CACHE=0).
  - A host without facts (floodgate's plays gather none) gets its variables without ansible-core's walk of every
    connection plugin to clean facts it does not have (FLOODGATE_CLEAN_FACTS_SHORTCUT=0).
  - A task's variables are wrapped for lazy templating once while they do not change, not at every render; each
    render still gets its own copy of the wrapper (FLOODGATE_LAZY_VARS_CACHE=0).
author: floodgate
"""


def _switched_on(name: str) -> bool:
    """Each speed-up below is on unless its environment switch says 0."""
    return os.environ.get(name, "1") != "0"


# The controller's objects left out of every forked child's garbage collection. Each worker (one per host and task)
# inherits the whole heap of ansible-playbook; when the worker's own allocations set off a full collection, Python
# walks every inherited object too, and writes to each one's GC header, so every page of the heap is copied into the
# worker. Counted with gc.callbacks in real 20-edge runs (2026-11-27, session 15, docs/fleet.md): 40-61 full
# collections in the workers of a run, ~68 ms each, 2.8-4.5 controller CPU s per run. In the child, right after the
# fork, gc.freeze() moves what it inherited to the permanent generation (a splice of the generations' lists: no
# object is walked), so the child collects only what it allocates itself; the controller's process collects as
# before. (Python's documentation gives the same reason for gc.freeze() around fork.)
# FLOODGATE_GC_FREEZE_CHILDREN=0 turns it off.
def _freeze_inherited_objects() -> None:
    if _switched_on("FLOODGATE_GC_FREEZE_CHILDREN"):
        gc.freeze()


os.register_at_fork(after_in_child=_freeze_inherited_objects)


# mitogen calls ansible_mitogen.affinity.policy.assign_*() through the module attribute: the base Policy pins
# nothing.
if (os.cpu_count() or 1) < 4:
    ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()


# floodgate's modules run in the host's one mitogen interpreter, not in a child forked per call. mitogen forks a
# child for every call of a module that imports module_utils from outside ansible-core (a new context set up by
# the controller, a fork and the imports on the host; in mitigate.yml five calls per host), because such
# module_utils might differ between modules. floodgate's own (ansible.module_utils.floodgate) are the same files for
# the whole run, hold no state between calls, and mitogen's importer unloads them after each call anyway.
_OWN_MODULE_UTILS = "ansible.module_utils.floodgate"
_should_fork = ansible_mitogen.planner.NewStylePlanner.should_fork


def _should_fork_unless_floodgate(self) -> bool:
    custom = self.get_module_map()["custom"]
    if custom and all(
        name == _OWN_MODULE_UTILS or name.startswith(_OWN_MODULE_UTILS + ".") for name, _path, _pkg in custom
    ):
        return bool(
            self._inv.wrap_async
            or self._inv.task_vars.get("mitogen_task_isolation") == "fork"
            or self._inv.module_name in self.ALWAYS_FORK_MODULES
        )
    return _should_fork(self)


if os.environ.get("FLOODGATE_MITOGEN_FORK", "0") != "1":
    ansible_mitogen.planner.NewStylePlanner.should_fork = _should_fork_unless_floodgate


# floodgate's module_utils compiled once per host and run, not once per module call. On the host, mitogen's
# ModuleUtilsImporter (ansible_mitogen.runner) compiles the source of every custom module_utils a module imports at
# each call (and unloads it after; the module's own code it already keeps per path): the 14 of
# ansible.module_utils.floodgate take ~14 ms to compile, and a module such as floodgate_host_facts imports most of
# them, so every host compiled them again for each of its 6-9 floodgate module calls per run. The source of
# ansible_mitogen.runner that the controller serves to the hosts gets a cache of the compiled code per (path,
# source) instead: the same text compiles to the same code, and a module executes it into a new module object as
# before (the unloading stays). Only when mitogen's text is the one expected (two compile lines); else served as
# it is. FLOODGATE_MITOGEN_CODE_CACHE=0 serves mitogen's runner unchanged.
_RUNNER = "ansible_mitogen.runner"
_RUNNER_COMPILE = "        code = compile(source, path, 'exec', 0, 1)\n"
_RUNNER_CACHED = "        code = _fg_module_utils_code(source, path)\n"
# The module's own code, which mitogen keeps per path for the interpreter's life, from the disk cache below too.
_RUNNER_MODULE_COMPILE = "            return self._code_by_path.setdefault(self.path, compile(\n"
_RUNNER_MODULE_CACHED = "            return self._code_by_path.setdefault(self.path, _fg_compile(\n"
_RUNNER_HELPER = """

# Added by floodgate (strategy_plugins/floodgate_mitogen_linear.py): module_utils compiled once per interpreter, and
# compiled code taken from the host's disk cache when mitogen.core has it (_fg_code).
_fg_module_utils_codes = {}


def _fg_compile(source, filename, mode='exec', flags=0, dont_inherit=True):
    cached = getattr(mitogen.core, '_fg_code', None)
    if cached is not None and mode == 'exec' and not flags and dont_inherit:
        return cached(source, filename)
    return compile(source, filename, mode, flags, dont_inherit)


def _fg_module_utils_code(source, path):
    key = (path, source)
    code = _fg_module_utils_codes.get(key)
    if code is None:
        code = _fg_module_utils_codes[key] = _fg_compile(source, path)
    return code
"""


def runner_source_with_code_cache(source: str | bytes) -> str | bytes | None:
    """ansible_mitogen.runner's source with ModuleUtilsImporter's compile() calls cached, and the module's own
    compile() through the disk cache; None if not recognised."""
    text = source.decode("utf-8") if isinstance(source, bytes) else source
    if (
        text.count(_RUNNER_COMPILE) != 2
        or text.count(_RUNNER_MODULE_COMPILE) != 1
        or "_fg_module_utils_code" in text
        or "\nimport mitogen.core\n" not in text
    ):
        return None
    patched = (
        text.replace(_RUNNER_COMPILE, _RUNNER_CACHED).replace(_RUNNER_MODULE_COMPILE, _RUNNER_MODULE_CACHED)
        + _RUNNER_HELPER
    )
    return patched.encode("utf-8") if isinstance(source, bytes) else patched


_get_module_source = mitogen.master.ModuleFinder.get_module_source


def _get_module_source_code_cached(self, fullname):  # mitogen's ModuleFinder.get_module_source
    tup = _get_module_source(self, fullname)
    if fullname != _RUNNER or not tup or not tup[1]:
        return tup
    patched = runner_source_with_code_cache(tup[1])
    if patched is None:
        return tup
    tup = (tup[0], patched, tup[2])
    self._found_cache[fullname] = tup  # served (and scanned for its imports) as patched from now on
    return tup


if _switched_on("FLOODGATE_MITOGEN_CODE_CACHE"):
    mitogen.master.ModuleFinder.get_module_source = _get_module_source_code_cached


# Each host's interpreter compiles the modules it imports from the controller (ansible.module_utils.basic and its
# dependencies, ansible_mitogen's target side: 63 modules, ~730 KB, ~110 ms of CPU here) once per run, and every
# run starts a new one: measured in the lab, a play of one ping costs a lab edge ~0.4 CPU s, every run of every
# playbook. mitogen.core, which the controller sends in each host's bootstrap, gets a cache of that compiled code on
# the host's disk instead: ~/.cache/floodgate-mitogen/<cache tag>/ of the user the interpreter runs as ($HOME when
# that user owns it, else the user's home from the password database, e.g. under sudo keeping the login user's
# HOME), created 0700, used only when that user owns it and nobody else may write to it; one file per source text
# (named by the SHA-256 of the Python version, file name and source: a changed source is compiled again under another
# name); written through a temporary file renamed into place; any error falls back to compiling, as before. The
# first run on a host compiles as before and writes the files (~1 MB). FLOODGATE_MITOGEN_PYC_CACHE=0 sends
# mitogen.core unchanged.
_CORE_COMPILES = (
    "code = compile(source, origin, 'exec', flags=0, dont_inherit=True)",
    "code = compile(source, mod.__file__, 'exec', 0, 1)",
)
_CORE_CACHED = ("code = _fg_code(source, origin)", "code = _fg_code(source, mod.__file__)")
_CORE_HELPER = """
def _fg_code(source, filename):
    # Added by floodgate (strategy_plugins/floodgate_mitogen_linear.py): compiled code cached on this host's disk.
    import marshal
    data = source.encode('utf-8') if isinstance(source, str) else source
    path = None
    try:
        import hashlib
        home = os.environ.get('HOME') or ''
        if not home or os.stat(home).st_uid != os.geteuid():  # e.g. sudo keeping the login user's HOME
            import pwd
            home = pwd.getpwuid(os.geteuid()).pw_dir
        folder = os.path.join(home, '.cache', 'floodgate-mitogen', sys.implementation.cache_tag)
        if not os.path.isdir(folder):
            os.makedirs(folder, 0o700)
        st = os.lstat(folder)
        if st.st_uid == os.geteuid() and not st.st_mode & 0o022:
            key = hashlib.sha256(('%x' % sys.hexversion).encode() + b'\\0' + filename.encode('utf-8', 'surrogateescape')
                                 + b'\\0' + data).hexdigest()
            path = os.path.join(folder, key)
            try:
                f = open(path, 'rb')
            except OSError:
                f = None
            if f is not None:
                with f:
                    return marshal.loads(f.read())
    except Exception:
        path = None
    code = compile(source, filename, 'exec', 0, 1)
    if path is not None:
        try:
            tmp = '%s.%d.tmp' % (path, os.getpid())
            with open(tmp, 'wb') as f:
                f.write(marshal.dumps(code))
            os.rename(tmp, path)
        except Exception:
            pass
    return code


"""


def core_source_with_code_cache(source: str) -> str | None:
    """mitogen.core's (minimized) source with its Importer's compile() calls cached on disk; None if not recognised."""
    if "_fg_code" in source or source.count("\nclass Importer(") != 1:
        return None
    if any(source.count(line) != 1 for line in _CORE_COMPILES):
        return None
    for line, cached in zip(_CORE_COMPILES, _CORE_CACHED, strict=True):
        source = source.replace(line, cached)
    return source.replace("\nclass Importer(", "\n" + _CORE_HELPER + "class Importer(", 1)


_get_core_source = mitogen.parent._get_core_source


def _get_core_source_code_cached() -> str:
    source = _get_core_source()
    return core_source_with_code_cache(source) or source


if _switched_on("FLOODGATE_MITOGEN_PYC_CACHE"):
    mitogen.parent._get_core_source = _get_core_source_code_cached


# SSH connections kept open between runs, as Ansible's ssh connection keeps them. Ansible's ssh plugin, given
# ControlPersist in ssh_args (ansible.cfg: ControlMaster=auto, ControlPersist=300s) and no ControlPath, adds a
# ControlPath under control_path_dir itself; mitogen passes the same ssh_args to ssh without one, and ssh without a
# ControlPath shares nothing: every run paid a new SSH handshake per host (with OpenSSH 9's default key exchange,
# sntrup761x25519, ~0.1 CPU s of the controller's ssh per connection here) and a new sshd login on the host. So the
# mitogen connection gets the ControlPath Ansible's ssh connection would use for the same host (same folder, made
# 0700 as Ansible makes it, same name: one master per host shared by both), only when Ansible would add one; a
# folder that cannot be made or written leaves the arguments as they were. FLOODGATE_MITOGEN_SSH_MUX=0 turns it off.
_ssh_args = ansible_mitogen.transport_config.PlayContextSpec.ssh_args


def _ssh_args_with_control_path(self) -> list[str]:
    args = _ssh_args(self)
    lowered = [arg.lower() for arg in args]
    if not any("controlpersist" in arg for arg in lowered) or any("controlpath" in arg for arg in lowered):
        return args
    try:
        cpdir = unfrackpath(self._connection_option("control_path_dir") or "~/.ansible/cp")
        makedirs_safe(cpdir, 0o700)
        if not os.access(cpdir, os.W_OK):
            return args
        path = self._connection_option("control_path") or SshConnection._create_control_path(
            self.remote_addr(), self.port(), self.remote_user()
        )
        return [*args, "-o", "ControlPath=" + path % {"directory": cpdir}]
    # AttributeError: mitogen looks an option the plugin lacks up on the PlayContext, which may not have it either
    except (OSError, AnsibleError, AttributeError, KeyError, TypeError, ValueError) as e:
        display.vvv(f"floodgate_mitogen_linear: no ssh ControlPath for {self.remote_addr()}: {e}")
        return args


if _switched_on("FLOODGATE_MITOGEN_SSH_MUX"):
    ansible_mitogen.transport_config.PlayContextSpec.ssh_args = _ssh_args_with_control_path


# The play's vars_files parsed once per run, not once per host and task. VariableManager.get_vars loads them with
# cache='vaulted' (ansible-core 2.19: only a vaulted file is kept parsed), so every host's variables for every task
# read and parsed playbooks/vars/request.yml again: ~0.55 ms a time, the largest part of get_vars in the controller's
# process (py-spy, 20-edge mitigate). Kept here per file, as it was read (path, size, mtime, inode: a file changed
# during the run is read again); returned as ansible-core returns a cached file (unsafe=True: the same object, which
# get_vars does not change). FLOODGATE_VARS_FILES_CACHE=0 turns it off.
_load_from_file = DataLoader.load_from_file
_VARS_FILES: dict[tuple[t.Any, ...], t.Any] = {}


def _load_from_file_kept(
    self, file_name, cache="all", unsafe=False, json_only=False, trusted_as_template=False
):
    if cache != "vaulted" or not unsafe:
        return _load_from_file(self, file_name, cache, unsafe, json_only, trusted_as_template)
    path = self.path_dwim(file_name)
    try:
        st = os.stat(path)
    except OSError:
        return _load_from_file(self, file_name, cache, unsafe, json_only, trusted_as_template)
    key = (path, json_only, trusted_as_template, st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _VARS_FILES:
        _VARS_FILES[key] = _load_from_file(self, file_name, cache, unsafe, json_only, trusted_as_template)
    return _VARS_FILES[key]


if _switched_on("FLOODGATE_VARS_FILES_CACHE"):
    DataLoader.load_from_file = _load_from_file_kept


# A filter's or test's plugin looked up once per process, not at each use. Every `| name` or `is name` in a template
# asks ansible-core's Jinja2Loader for the plugin again (a new load context, the legacy wrappers' map or the
# collection routing walked each time): in a 5-edge re-run of mitigate.yml 1,052 lookups in the controller's process
# (61 ms) and in the workers 26 ms per host, 10-15% of their Python time (thread CPU, 2026-11-27). Within a
# run a name resolves to the same plugin every time (the plugin paths do not change), so the first result is kept
# per (plugin type, name) and returned again; a name that does not resolve raises each time, as before, and a
# deprecated plugin's warning is said at its first use in each process. Workers inherit what the controller's
# process looked up before it forked them. FLOODGATE_PLUGIN_LOOKUP_CACHE=0 turns it off.
_jinja_get_with_context = Jinja2Loader.get_with_context
_JINJA_PLUGINS: dict[tuple[str, str], t.Any] = {}


def _jinja_plugin_kept(self, name, *args, **kwargs):
    if args or set(kwargs) - {"class_only", "collection_list"}:  # only the plain lookups templating makes
        return _jinja_get_with_context(self, name, *args, **kwargs)
    key = (self.type, name)
    found = _JINJA_PLUGINS.get(key)
    if found is None:
        found = _JINJA_PLUGINS[key] = _jinja_get_with_context(self, name, *args, **kwargs)
    return found


if _switched_on("FLOODGATE_PLUGIN_LOOKUP_CACHE"):
    Jinja2Loader.get_with_context = _jinja_plugin_kept


# A host without facts costs its variables no walk of the connection plugins. For every host and task,
# VariableManager.get_vars pushes the host's facts to the top level through ansible.vars.clean.clean_facts, which
# lists every connection plugin on disk (connection_loader.all) to build a pattern per plugin, even for a host that
# has no facts at all - floodgate's plays gather none: 490 calls and ~10% of the controller's main process under
# cProfile in a 20-edge run of mitigate.yml (2026-11-28). For no facts clean_facts returns an empty dict whatever
# the plugins (nothing to copy, remove or strip): that is returned at once; any other facts go through it
# unchanged. FLOODGATE_CLEAN_FACTS_SHORTCUT=0 turns it off.
_clean_facts = ansible.vars.manager.clean_facts


def _clean_facts_of(facts):
    if not facts:
        return {}
    return _clean_facts(facts)


if _switched_on("FLOODGATE_CLEAN_FACTS_SHORTCUT"):
    ansible.vars.manager.clean_facts = _clean_facts_of


# A task's variables wrapped for lazy templating once, not at every render. Each template render (each task
# argument, condition, and each variable that is itself a template) starts a Jinja context, and ansible-core wraps
# the templar's variables - a plain dict of ~200 entries for a task of mitigate.yml - in a new lazy dict, one
# Python-level wrapper per entry, each time (_jinja_bits._flatten_and_lazify_vars): a render's cost grew with the
# number of variables (0.09 ms at 100, 0.52 ms at 1,000 for `{{ b }}` with the compiled code cached; session 22,
# docs/fleet.md). Here the wrapper of a dict of more than 16 entries is made once per (dict, templar) and each
# render gets a copy of it (a C-level copy of its entries, still unrendered): a render never sees values another
# render produced, as before. The wrapper is used only while the dict holds the same keys and the same value
# objects (checked by identity at each use): a value set or replaced since (a registered result, a loop's item)
# makes a new one. FLOODGATE_LAZY_VARS_CACHE=0 turns it off.
_flatten_and_lazify_vars = _jinja_bits._flatten_and_lazify_vars
_LAZY_VARS_MIN = 17
_LAZY_VARS_KEEP = 8
_LAZY_VARS: dict[tuple[int, int], tuple[t.Any, ...]] = {}


def _flatten_and_lazify_vars_kept(mapping):
    context = _engine.TemplateContext.current(optional=True) if type(mapping) is dict else None
    if context is None or len(mapping) < _LAZY_VARS_MIN:
        yield from _flatten_and_lazify_vars(mapping)
        return
    templar = context.templar
    # The entry holds the dict and the templar: their ids cannot be reused by other objects while it is kept.
    key = (id(mapping), id(templar))
    kept = _LAZY_VARS.get(key)
    if not (
        kept is not None
        and len(mapping) == len(kept[2])
        and all(map(operator.is_, mapping, kept[2]))
        and all(map(operator.is_, mapping.values(), kept[3]))
    ):
        if len(_LAZY_VARS) >= _LAZY_VARS_KEEP:
            _LAZY_VARS.clear()
        lazy = _AnsibleLazyTemplateMixin._try_create(mapping)
        kept = _LAZY_VARS[key] = (mapping, templar, list(mapping), list(mapping.values()), lazy)
    yield _AnsibleLazyTemplateDict(kept[4])


if _switched_on("FLOODGATE_LAZY_VARS_CACHE"):
    _jinja_bits._flatten_and_lazify_vars = _flatten_and_lazify_vars_kept


# Each module's dependencies scanned without compiling the same module_utils again. mitogen's controller finds the
# module_utils a module needs (ansible_mitogen.module_finder._scan_importlib_find_spec) by compiling the module and
# every module_utils it reaches, for each module of the run: ansible.module_utils.basic and its ~45 dependencies
# again for every module, 55-110 ms per module here (one at a time: the service is serialised, and the hosts' first
# call of each module waits for it), ~1 s per run of mitigate.yml. The function looks `compile` up in its module's
# globals before the builtins, so a `compile` there that keeps the code per (source, name, mode) makes the scan
# compile each file once per run; the same text compiles to the same code, so the scan's result is unchanged.
# FLOODGATE_MITOGEN_SCAN_CACHE=0 turns it off.
_SCAN_CODE: dict[tuple[t.Any, ...], types.CodeType] = {}


def _scan_compile(source, filename, mode, *args, **kwargs):
    if args or kwargs or not isinstance(source, bytes | str):
        return compile(source, filename, mode, *args, **kwargs)
    key = (source, filename, mode)
    code = _SCAN_CODE.get(key)
    if code is None:
        code = _SCAN_CODE[key] = compile(source, filename, mode)
    return code


if _switched_on("FLOODGATE_MITOGEN_SCAN_CACHE") and hasattr(
    ansible_mitogen.module_finder, "_scan_importlib_find_spec"
):
    ansible_mitogen.module_finder.compile = _scan_compile  # type: ignore[attr-defined]


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, ansible.plugins.strategy.linear.StrategyModule):
    """mitogen_linear (ansible_mitogen/plugins/strategy/mitogen_linear.py), with the policy above."""

    def run(self, iterator, play_context):
        self._fg_needs_worker: set[str] = set()  # tasks left to workers (see _skipped_here)
        if not _switched_on("FLOODGATE_JINJA_CACHE"):  # off: Ansible compiles every template when used
            return super().run(iterator, play_context)
        _CODE_CACHE.install()
        first = (getattr(self, "_hosts_cache", None) or [])[:1]
        _precompile(
            self._variable_manager,
            iterator._play,
            iterator._blocks,
            [self._inventory.get_host(h) for h in first],
        )
        return super().run(iterator, play_context)

    def _queue_task(self, host, task, task_vars, play_context):
        if _SKIP_AHEAD and self._skipped_here(host, task, task_vars, play_context):
            return None
        return super()._queue_task(host, task, task_vars, play_context)

    def _skipped_here(self, host, task, task_vars, play_context) -> bool:
        """A task whose condition is false for this host is skipped here, with the result a worker would send, instead
        of forking a worker for it (~35-50 ms of controller CPU per host and task on a 50-edge fleet, docs/fleet.md).

        The condition is evaluated as TaskExecutor evaluates it (the same variables, with the task's search path
        and the connection's variables added). Only a plain task is tried (no loop, delegation or run_once); any
        error or warning while evaluating, or a true condition, leaves the host's task to a worker as before (a
        true condition also for the task's other hosts: it is evaluated here once at most for nothing)."""
        if not task.when or task._uuid in self._fg_needs_worker:
            return False
        if task.loop is not None or task.loop_with or task.delegate_to or task.run_once:
            self._fg_needs_worker.add(task._uuid)
            return False
        variables = dict(task_vars)
        variables["ansible_search_path"] = search_path = task.get_search_path()
        if self._loader.get_basedir() not in search_path:
            search_path.append(self._loader.get_basedir())
        templar = _engine.TemplateEngine(loader=self._loader, variables=variables)
        context: dict[str, t.Any] = {}
        try:
            with DeferredWarningContext(variables=variables) as warnings:
                try:  # as TaskExecutor: a connection setting that fails here only matters for a task that runs
                    host_context = play_context.set_task_and_variable_override(
                        task=task, variables=variables, templar=templar
                    )
                    host_context.post_validate(templar=templar)
                    if not host_context.remote_addr:
                        host_context.remote_addr = host.address
                    host_context.update_vars(variables)
                except AnsibleError:
                    pass
                runs = task._resolve_conditional(task.when, variables, result_context=context)
            if warnings.get_warnings() or warnings.get_deprecation_warnings():
                runs = True
        except Exception:
            runs = True
        if runs:
            self._fg_needs_worker.add(task._uuid)
            return False
        result = dict(changed=False, skipped=True, skip_reason="Conditional result was False") | context
        task.update_result_no_log(templar, result)
        # what _queue_task records and sends for a worker's result
        self._queued_task_cache[(host.name, task._uuid)] = {
            "host": host,
            "task": task,
            "task_vars": task_vars,
            "play_context": play_context,
        }
        self._tqm.send_callback("v2_runner_on_start", host, task)
        self._final_q.send_task_result(
            _RawTaskResult(host=host, task=task, return_data=result, task_fields=task.dump_attrs())
        )
        self._pending_results += 1
        return True

    def _load_included_file(self, included_file, iterator, is_handler=False, handle_stats_and_callbacks=True):
        blocks = super()._load_included_file(included_file, iterator, is_handler, handle_stats_and_callbacks)
        if not _CODE_CACHE.installed:
            return blocks
        _precompile(
            self._variable_manager,
            iterator._play,
            blocks,
            [included_file._hosts[0]] if included_file._hosts else [],
        )
        return blocks


class _JinjaCodeCache:
    """Jinja's compiled code (a Python code object) per template source and the settings that shape it.

    Jinja compiles a template from source each time Ansible renders one (parse, generate Python, compile): in a
    worker per host and task, the same few hundred templates are compiled again for every host. The code object
    depends only on the source, the environment's settings (delimiters, whitespace handling, finalize, code
    generator) and Ansible's escape_backslashes compile setting, all in the key; the template object built
    from it is still bound to the environment that asked (as Jinja's own bytecode cache does). A compile error
    is not kept: it is raised again each time, as before.
    """

    def __init__(self) -> None:
        self._code: dict[tuple[t.Any, ...], types.CodeType] = {}
        self._pending = threading.local()
        self.installed = False
        self.warming = False  # True while _precompile compiles, in the controller's process
        self._log = os.environ.get("FLOODGATE_JINJA_CACHE_LOG") or None

    def _log_compile(self, key: tuple[t.Any, ...] | None, source: str | None) -> None:
        """One JSON line per compile that did not come from the cache (FLOODGATE_JINJA_CACHE_LOG): the process,
        whether this was the controller's warm-up, the kind of source and the source."""
        if self._log is None:
            return
        record = {
            "pid": os.getpid(),
            "warmup": self.warming,
            "kind": key[0] if key else "uncached",
            "source": key[1] if key else source,
        }
        # one write() of one line to a file opened O_APPEND: the workers' lines do not interleave
        fd = os.open(self._log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)

    @staticmethod
    def _settings(env: jinja_environment.Environment) -> tuple[t.Any, ...] | None:
        if not isinstance(env.autoescape, bool) or getattr(env, "_debuggable_template_source", False):
            return None  # a per-template autoescape callable, or Ansible's template debugging: not cached
        tcc = _jinja_bits._TemplateCompileContext.current(optional=True)
        return (
            type(env),
            env.code_generator_class,
            env.block_start_string,
            env.block_end_string,
            env.variable_start_string,
            env.variable_end_string,
            env.comment_start_string,
            env.comment_end_string,
            env.line_statement_prefix,
            env.line_comment_prefix,
            env.trim_blocks,
            env.lstrip_blocks,
            env.newline_sequence,
            env.keep_trailing_newline,
            env.optimized,
            env.autoescape,
            env.is_async,
            env.finalize is not None,
            tuple(sorted(env.extensions)),
            bool(tcc and tcc.escape_backslashes),
        )

    def install(self) -> None:
        """Wrap AnsibleEnvironment.compile and compile_expression (idempotent)."""
        if self.installed:
            return
        self.installed = True
        cls = _jinja_bits.AnsibleEnvironment
        compile_source, compile_expression = cls.compile, cls.compile_expression
        cache = self

        def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
            pending = getattr(cache._pending, "key", None)
            if isinstance(source, str) and not raw and (settings := cache._settings(self)) is not None:
                key: tuple[t.Any, ...] | None = (
                    "template",
                    str(source),
                    name,
                    filename,
                    defer_init,
                    settings,
                )
            elif pending is not None and not isinstance(source, str):
                key = pending  # the tree compile_expression parsed from the source it was given
            else:
                key = None
            if key is not None and (code := cache._code.get(key)) is not None:
                return code
            code = compile_source(self, source, name, filename, raw, defer_init)
            cache._log_compile(key, str(source) if isinstance(source, str) else None)
            if key is not None and isinstance(code, types.CodeType):
                cache._code[key] = code
            return code

        def compile_expr(self, source, undefined_to_none=True):
            settings = cache._settings(self)
            if settings is None:
                return compile_expression(self, source, undefined_to_none)
            key = ("expression", str(source), settings)
            code = cache._code.get(key)
            if code is not None:
                template = self.template_class.from_code(self, code, self.make_globals(None), None)
                return jinja_environment.TemplateExpression(template, undefined_to_none)
            cache._pending.key = key
            try:
                return compile_expression(self, source, undefined_to_none)
            finally:
                cache._pending.key = None

        cls.compile = compile
        cls.compile_expression = compile_expr


_CODE_CACHE = _JinjaCodeCache()
# Tasks skipped in the controller's process without a worker (StrategyModule._skipped_here); FLOODGATE_SKIP_AHEAD=0
# forks a worker for every host and task, as before.
_SKIP_AHEAD = _switched_on("FLOODGATE_SKIP_AHEAD")
# How the template lookup (ansible-core 2.19, plugins/lookup/template.py) compiles a file: TemplateOptions with
# escape_backslashes=False and TemplateOverrides.from_kwargs(its options), which with the options at their defaults
# ({{ }}, {# #}, trim_blocks) is TemplateOverrides.DEFAULT; a `#jinja2:` header in the file is applied by
# TemplateEngine._compile_template here as there. A lookup with other options misses and compiles when used.
_TEMPLATE_FILE_OPTIONS = _engine.TemplateOptions(escape_backslashes=False)
_TEMPLATE_FILE_MAX_BYTES = 1 << 20
# files already compiled in this process (a later include need not read them again)
_warmed_files: set[str] = set()
# Task keywords that are expressions (compiled as such), not templates.
_CONDITIONALS = ("when", "changed_when", "failed_when", "until")


def _strings(data: t.Any, out: set[str]) -> None:
    """Every string in `data` (nested dicts and lists) that may be a template."""
    if isinstance(data, str):
        if "{{" in data or "{%" in data:
            out.add(data)
    elif isinstance(data, dict):
        for value in data.values():
            _strings(value, out)
    elif isinstance(data, list | tuple):
        for value in data:
            _strings(value, out)


def _precompile(variable_manager, play, blocks, hosts) -> None:
    """Compile, in this process, the templates the workers of `blocks` will render (see _JinjaCodeCache): the
    tasks' keywords and arguments, and the variables they see (play, vars_files, roles, inventory of one host).
    A warm-up only: whatever it misses is compiled when used, as without it."""
    try:
        _precompile_blocks(variable_manager, play, blocks, hosts)
    except Exception as err:
        display.warning(
            f"floodgate_mitogen_linear: templates not compiled ahead ({err}); they are compiled when used"
        )


def _precompile_blocks(variable_manager, play, blocks, hosts) -> None:
    templates: set[str] = set()
    expressions: set[str] = set()
    roles: dict[int, Task] = {}

    def walk(block: Block) -> None:
        _strings(getattr(block, "_ds", None), templates)
        _strings(getattr(block, "vars", None), templates)
        for task in [*block.block, *block.rescue, *block.always]:
            if isinstance(task, Block):
                walk(task)
                continue
            _strings(getattr(task, "_ds", None), templates)
            _strings(task.args, templates)
            _strings(task.vars, templates)
            for keyword in _CONDITIONALS:
                for value in getattr(task, keyword, None) or []:
                    if isinstance(value, str):
                        expressions.add(value.strip())
            if task._role is not None:
                roles.setdefault(id(task._role), task)

    for block in blocks:
        walk(block)
    host = hosts[0] if hosts else None
    for task in [None, *roles.values()]:
        _strings(dict(variable_manager.get_vars(play=play, host=host, task=task)), templates)
    loader = variable_manager._loader
    folders = [task._role.get_role_path() for task in roles.values()]
    if loader is not None:
        folders.append(loader.get_basedir())
    engine = _engine.TemplateEngine()
    template_options = _engine.TemplateOptions.DEFAULT
    expression_options = _engine.TemplateOptions(escape_backslashes=False, preserve_trailing_newlines=False)
    _CODE_CACHE.warming = True
    try:
        for text in templates:
            engine._compile_template(text, template_options)
        for text in expressions:
            if text and not ("{{" in text or "{%" in text):
                engine._compile_expression(text, expression_options)
        if loader is not None:
            for path in _template_files(folders):
                _compile_template_file(engine, loader, path)
    finally:
        _CODE_CACHE.warming = False


def _template_files(folders: list[str]) -> list[str]:
    """The *.j2 files under templates/ of each folder (roles, the play's own), not compiled yet in this process."""
    files: list[str] = []
    for folder in dict.fromkeys(folders):
        root = pathlib.Path(folder, "templates")
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.j2")):
            name = str(path)
            if name in _warmed_files or not path.is_file() or path.stat().st_size > _TEMPLATE_FILE_MAX_BYTES:
                continue
            _warmed_files.add(name)
            files.append(name)
    return files


def _compile_template_file(engine: _engine.TemplateEngine, loader, path: str) -> None:
    """Compile one template file as the template lookup does (read as it reads it: UTF-8, vault decrypted); a
    file that cannot be read is left to the lookup, which reports it when used."""
    try:
        text = loader.get_text_file_contents(path)
    except Exception:
        return
    engine._compile_template(text, _TEMPLATE_FILE_OPTIONS)
