/** An indexed triangle mesh: positions xyz per vertex (world mm), triangles as vertex-index triples, counter-clockwise seen from outside. */
export interface TriangleMesh {
  positions: Float64Array;
  triangles: Uint32Array;
}

export function vertexCountOf(mesh: TriangleMesh): number {
  return mesh.positions.length / 3;
}

export function triangleCountOf(mesh: TriangleMesh): number {
  return mesh.triangles.length / 3;
}
