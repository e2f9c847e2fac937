#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes src/arch-table.c from catalyst's arch/NAME.toml files (facts only):
#   python3 tests/tools/arch-table.py ../shared/data/catalyst-arch > src/arch-table.c
# Not run by the build; tests/unit/test-arch.c checks the result against the toml.
import tomllib, os, sys, collections
d = sys.argv[1]
rows = []; setarch = []; seen = collections.defaultdict(list)
for f in sorted(os.listdir(d)):
    if not f.endswith('.toml'): continue
    name = f[:-5]
    t = tomllib.load(open(os.path.join(d, f), 'rb'))
    for sec, v in t.get('setarch', {}).items():
        setarch.append((sec, v['arch'], v['if_build']))
    for sec in t:
        if not sec.startswith(name): continue
        for sub, kv in t[sec].items():
            cpu = [k for k in kv if k.startswith('CPU_FLAGS_')]
            extra = set(kv) - {'COMMON_FLAGS', 'CHOST', 'USE'} - set(cpu)
            assert not extra, (f, sec, sub, extra)
            assert len(cpu) <= 1
            rows.append((name, sec, sub, kv.get('CHOST'), kv.get('COMMON_FLAGS'),
                         cpu[0] if cpu else None, ' '.join(kv[cpu[0]]) if cpu else None,
                         ' '.join(kv['USE']) if 'USE' in kv else None))
            seen[sub].append(f)
for k, v in seen.items():
    if len(v) > 1: print('DUP', k, v, file=sys.stderr)
def q(s): return 'NULL' if s is None else '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'
print('/* SPDX-License-Identifier: GPL-2.0-or-later */')
print('/*')
print(' * arch-table.c - zeolite\'s built-in subarch table: one row per subarch')
print(' * catalyst 4.1 knows, with the facts its arch/NAME.toml state (docs/arch.md).')
print(' * Rows are in catalyst\'s search order: files by name, tables and subarches')
print(' * in file order.')
print(' */')
print('#include "arch-table.h"\n')
print('const ArchRow arch_table[] = {')
print('\t/* arch, section, name, CHOST, COMMON_FLAGS, CPU_FLAGS_* name, its flags, USE */')
for r in rows: print('\t{ ' + ', '.join(q(x) for x in r) + ' },')
print('};')
print('const size_t arch_table_len = sizeof(arch_table) / sizeof(arch_table[0]);\n')
print('const ArchSetarch arch_setarch[] = {')
print('\t/* section, setarch arch, when the host machine is */')
for r in setarch: print('\t{ ' + ', '.join(q(x) for x in r) + ' },')
print('};')
print('const size_t arch_setarch_len = sizeof(arch_setarch) / sizeof(arch_setarch[0]);')
