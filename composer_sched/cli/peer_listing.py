"""``composer-sched list --hf`` / ``--timm``: transformers' and timm's schedule names, their arguments and what each
maps to (the table of :mod:`composer_sched.schedules.peers`). Pure: no torch, no Composer."""
from __future__ import annotations


def print_peers(vocabularies: list[str], names: list[str]) -> int:
    """Print the peer names of ``vocabularies`` (``'hf'``, ``'timm'``), only ``names`` when given."""
    from composer_sched.schedules.peers import PEERS, VOCABULARIES
    from composer_sched.schedules.registry import REQUIRED

    for vocab in vocabularies:
        library, how = VOCABULARIES[vocab]
        chosen = [p for p in PEERS.values() if p.vocabulary == vocab
                  and (not names or p.name in names or p.key in names)]
        if not chosen:
            continue
        print(f'== {library} names ({how}; recipe: schedulers: [{{name: {vocab}/<name>, ...}}]; '
              f"Python: ScheduleLR(optimizer, '{vocab}/<name>', ...)) ==")
        for p in chosen:
            target = f'-> {p.maps_to}' if p.maps_to else '-> refused'
            print(f'{p.key} {target}: {p.how}  [{p.source}]')
            if p.refused:
                print(f'    {p.refused}')
            for a in p.args:
                default = 'required' if a.default is REQUIRED else f'default {a.default!r}'
                lr = ' (absolute LR: divided by the optimizer\'s lr)' if a.absolute else ''
                print(f'    {a.name:<20} {default:<22} {a.doc}{lr}')
        print()
    print('docs/peers.md states each peer\'s semantics and every deliberate difference.')
    return 0
