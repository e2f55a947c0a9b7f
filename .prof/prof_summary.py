import json,sys,collections
p=json.load(open(sys.argv[1]))
nodes={n['id']:n for n in p['nodes']}
parent={}
for n in p['nodes']:
    for c in n.get('children',[]): parent[c]=n['id']
dt=collections.Counter()
samples=p['samples']; deltas=p['timeDeltas']
for s,d in zip(samples,deltas): dt[s]+=d
self_t=collections.Counter(); total=collections.Counter()
for nid,t in dt.items():
    n=nodes[nid]; cf=n['callFrame']
    key=f"{cf['functionName'] or '(anon)'} {cf['url'].split('/')[-1]}:{cf['lineNumber']}"
    self_t[key]+=t
    seen=set(); x=nid
    while x is not None:
        cf=nodes[x]['callFrame']; k=f"{cf['functionName'] or '(anon)'} {cf['url'].split('/')[-1]}:{cf['lineNumber']}"
        if k not in seen: total[k]+=t; seen.add(k)
        x=parent.get(x)
print('total sampled ms', sum(dt.values())/1000)
print('--- self'); [print(f"{v/1000:9.1f} {k}") for k,v in self_t.most_common(25)]
print('--- total'); [print(f"{v/1000:9.1f} {k}") for k,v in total.most_common(45)]
