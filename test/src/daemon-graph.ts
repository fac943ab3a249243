// What the daemon knows right now, read from GET /v1/graph: for tests that must wait until a
// fact the SDK reports (a wait, a hold) has reached the daemon, instead of sleeping "long enough".
interface GraphNode {
  key: string;
  attributes: { kind: 'owner' | 'resource'; service?: string; label: string };
}
interface GraphEdge {
  source: string;
  target: string;
  attributes: { kind: 'waits' | 'holds' };
}

/** The daemon's current edges as [kind, owner's service, resource label]. */
async function daemonEdges(httpUrl: string): Promise<Array<{ kind: 'waits' | 'holds'; service: string; resource: string }>> {
  const res = await fetch(`${httpUrl}/v1/graph`);
  if (res.status !== 200) throw new Error(`GET /v1/graph answered ${res.status}`);
  const graph = (await res.json()) as { nodes: GraphNode[]; edges: GraphEdge[] };
  const nodes = new Map(graph.nodes.map((n) => [n.key, n.attributes]));
  return graph.edges.flatMap((e) => {
    // waits: owner -> resource; holds: resource -> owner
    const [owner, resource] = e.attributes.kind === 'waits' ? [e.source, e.target] : [e.target, e.source];
    const o = nodes.get(owner);
    const r = nodes.get(resource);
    if (o?.kind !== 'owner' || r?.kind !== 'resource') return [];
    return [{ kind: e.attributes.kind, service: o.service ?? '', resource: r.label }];
  });
}

/** true once the daemon shows `service` in a `kind` edge with the resource labelled `resource` */
export async function daemonHasEdge(httpUrl: string, kind: 'waits' | 'holds', service: string, resource: string): Promise<true | undefined> {
  return (await daemonEdges(httpUrl)).some((e) => e.kind === kind && e.service === service && e.resource === resource) ? true : undefined;
}
