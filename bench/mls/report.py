#!/usr/bin/env python3
"""`make bench-mls`: turns the native and browser JSON of the MLS spike, and the two wasm files,
into the Markdown tables of docs/design/groups-and-devices.md (printed on stdout).

    report.py NATIVE_JSON BROWSER_JSON MLS_WASM_NAMED MLS_WASM_OPT SOTTO_WASM [XWING_NATIVE_JSON]
"""
import gzip
import json
import re
import sys
from collections import Counter


def leb(data, i):
    out = shift = 0
    while True:
        b = data[i]
        i += 1
        out |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return out, i


def sizes(path):
    raw = open(path, 'rb').read()
    return len(raw), len(gzip.compress(raw, 9))


def by_crate(path):
    """Code bytes per crate: function bodies (code section) named by the name section."""
    data = open(path, 'rb').read()
    i, imports, bodies, names = 8, 0, [], {}
    while i < len(data):
        sid, i = data[i], i + 1
        size, i = leb(data, i)
        end = i + size
        if sid == 2:  # imports: count imported functions (they come first in the index space)
            n, j = leb(data, i)
            for _ in range(n):
                for _ in range(2):
                    ln, j = leb(data, j)
                    j += ln
                kind, j = data[j], j + 1
                if kind == 0:
                    imports += 1
                    _, j = leb(data, j)
                elif kind == 1:
                    j += 1
                    flags, j = leb(data, j)
                    _, j = leb(data, j)
                    if flags & 1:
                        _, j = leb(data, j)
                elif kind == 2:
                    flags, j = leb(data, j)
                    _, j = leb(data, j)
                    if flags & 1:
                        _, j = leb(data, j)
                else:
                    j += 2
        elif sid == 10:
            n, j = leb(data, i)
            for _ in range(n):
                ln, j = leb(data, j)
                bodies.append(ln)
                j += ln
        elif sid == 0:
            ln, j = leb(data, i)
            if data[j:j + ln] == b'name':
                j += ln
                while j < end:
                    sub, j = data[j], j + 1
                    ssize, j = leb(data, j)
                    if sub == 1:
                        n, k = leb(data, j)
                        for _ in range(n):
                            idx, k = leb(data, k)
                            ln2, k = leb(data, k)
                            names[idx] = data[k:k + ln2].decode('utf-8', 'replace')
                            k += ln2
                    j += ssize
        i = end
    total = Counter()
    for n, size in enumerate(bodies):
        total[crate_of(names.get(imports + n, '?'))] += size
    return total, sum(bodies)


def crate_of(name):
    """The crate a function comes from: the first path in its (legacy-mangled or demangled)
    name, so that `<&mut serde_json::de::Deserializer<R> as serde::Deserializer>::f` counts
    for serde_json (where the instantiation is written) and `core[hash]::x` for core."""
    m = re.match(r'_ZN(?:\d+_\$LT\$)?(\d+)(\w+)', name)
    if m:
        return m.group(2)[:int(m.group(1))]
    m = re.search(r'([A-Za-z_]\w*)(?:\[[0-9a-f]+\])?::', name)
    return m.group(1) if m else '(other)'


def ms(v):
    if v is None:
        return '—'
    return f'{v:,.2f} ms' if v < 100 else f'{v:,.0f} ms'


def main():
    native, browser = (json.load(open(p)) for p in sys.argv[1:3])
    named, opt, sotto = sys.argv[3:6]
    pq = json.load(open(sys.argv[6])) if len(sys.argv) > 6 else None
    print(f"Rounds: native {native['rounds']}, browser {browser['rounds']} ({browser['browser']}). "
          'Medians; sizes in bytes.\n')
    head = '| operation | native | headless Chromium (wasm) |'
    if pq:
        head += ' native, X-Wing suite (libcrux) |'
    print(head)
    print('|---|---:|---:|' + ('---:|' if pq else ''))
    for op in native['ms']:
        row = f"| {op} | {ms(native['ms'][op])} | {ms(browser['ms'].get(op))} |"
        if pq:
            row += f" {ms(pq['ms'].get(op))} |"
        print(row)
    print()
    if not pq:
        print('| message | bytes | Sotto queue messages of 3,584 B |')
        print('|---|---:|---:|')
    if pq:
        print('| message | bytes | Sotto queue messages of 3,584 B | X-Wing suite, bytes |')
        print('|---|---:|---:|---:|')
    for msg, n in native['bytes'].items():
        if pq:
            fits = '—' if 'stored' in msg else f'{-(-n // 3584)}'
            print(f"| {msg} | {n:,} | {fits} | {pq['bytes'].get(msg, 0):,} |")
            continue
        fits = '—' if 'stored' in msg else f'{-(-n // 3584)}'
        print(f'| {msg} | {n:,} | {fits} |')
    print('\n| wasm | raw | gzip -9 |')
    print('|---|---:|---:|')
    for label, path in [('MLS spike (OpenMLS + rust-crypto + bench code)', opt),
                        ("Sotto's pkg/sotto_bg.wasm (this branch)", sotto)]:
        raw, gz = sizes(path)
        print(f'| {label} | {raw:,} | {gz:,} |')
    crates, code = by_crate(named)
    print(f'\nCode section of the MLS wasm before wasm-opt, by crate ({code:,} bytes of function bodies):\n')
    print('| crate | bytes | share |')
    print('|---|---:|---:|')
    for crate, n in crates.most_common(15):
        print(f'| {crate} | {n:,} | {100 * n / code:.1f}% |')
    groups = {
        'NIST/secp curves of suites not used (p256, p384, k256, primeorder, ecdsa, elliptic_curve, '
        'crypto_bigint)': {'p256', 'p384', 'k256', 'primeorder', 'ecdsa', 'elliptic_curve',
                           'crypto_bigint'},
        'JSON storage encoding (serde_json, serde_core, serde, openmls_memory_storage)':
            {'serde_json', 'serde_core', 'serde', 'openmls_memory_storage'},
    }
    print('\n| could be left out | bytes | share |')
    print('|---|---:|---:|')
    for label, names in groups.items():
        n = sum(crates[c] for c in names)
        print(f'| {label} | {n:,} | {100 * n / code:.1f}% |')


main()
