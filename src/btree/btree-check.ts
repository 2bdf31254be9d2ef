/**
 * The B+tree's self-checks, for tests and benchmarks: the invariant checker (the invariants are
 * listed at the top of btree.ts) and the shape figures (depth, node counts, leaf fill).
 *
 * It only reads: it must never change a node, and nothing on the paths of the stores may call it
 * (a full check is O(n)).
 */
import type { Leaf, Node } from './btree-node.ts';
import { fillOf } from './btree-node.ts';
import type { Comparator } from './keys.ts';

/** Shape figures for tests and benchmarks. */
export interface BTreeStats {
  /** Levels, counting the leaves (1 for a tree that is a single leaf). */
  readonly depth: number;
  /** Number of leaves. */
  readonly leaves: number;
  /** Number of internal nodes. */
  readonly internalNodes: number;
  /** Entries divided by leaf capacity (leaves * maxNodeSize); 1 means every leaf is full. */
  readonly leafFill: number;
}

/** What the checks read of a tree. */
export interface TreeShape<K, V> {
  readonly root: Node<K, V>;
  readonly count: number;
  readonly compare: Comparator<K>;
  readonly maxFill: number;
  readonly minFill: number;
}

/** Depth, node counts and leaf fill. O(n / maxNodeSize). */
export function treeStats<K, V>(tree: TreeShape<K, V>): BTreeStats {
  let depth = 1;
  let leaves = 0;
  let internalNodes = 0;
  let level: Node<K, V>[] = [tree.root];
  while (level.length > 0) {
    const next: Node<K, V>[] = [];
    for (const node of level) {
      if (node.isLeaf) leaves++;
      else {
        internalNodes++;
        next.push(...node.children);
      }
    }
    if (next.length > 0) depth++;
    level = next;
  }
  return { depth, leaves, internalNodes, leafFill: tree.count / (leaves * tree.maxFill) };
}

/**
 * Verifies every structural invariant. O(n).
 * @throws Error naming the first violated invariant.
 */
export function checkTree<K, V>(tree: TreeShape<K, V>): void {
  const leaves: Leaf<K, V>[] = [];
  const depths = new Set<number>();
  const total = checkNode(tree, tree.root, undefined, undefined, 1, true, leaves, depths);
  if (depths.size !== 1) fail('depth', `leaves at depths ${[...depths].join(', ')}`);
  if (total !== tree.count) fail('size', `tree says ${tree.count}, nodes hold ${total}`);
  if (!tree.root.isLeaf && tree.root.children.length < 2) fail('fill', 'internal root with fewer than 2 children');
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i] as Leaf<K, V>;
    if (leaf.prev !== leaves[i - 1]) fail('leaf links', `leaf ${i} has the wrong prev`);
    if (leaf.next !== leaves[i + 1]) fail('leaf links', `leaf ${i} has the wrong next`);
  }
}

/** Checks the subtree at `node`, whose keys must lie in [lo, hi); returns its entry count. */
function checkNode<K, V>(
  tree: TreeShape<K, V>,
  node: Node<K, V>,
  lo: K | undefined,
  hi: K | undefined,
  depth: number,
  onEdge: boolean,
  leaves: Leaf<K, V>[],
  depths: Set<number>,
): number {
  const where = `${node.isLeaf ? 'leaf' : 'internal node'} at depth ${depth}`;
  const keys = node.keys;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as K;
    if (i > 0 && !(tree.compare(keys[i - 1] as K, key) < 0)) fail('ordering', `${where}: key ${i} not above key ${i - 1}`);
    if (lo !== undefined && tree.compare(key, lo) < 0) fail('ordering', `${where}: key ${i} below its lower bound`);
    if (hi !== undefined && tree.compare(key, hi) >= 0) fail('ordering', `${where}: key ${i} not below its upper bound`);
  }
  const fill = fillOf(node);
  const isRoot = node === tree.root;
  if (fill > tree.maxFill) fail('fill', `${where} holds ${fill} > ${tree.maxFill}`);
  if (!isRoot && fill < (onEdge ? 1 : tree.minFill)) fail('fill', `${where} holds ${fill}, minimum ${onEdge ? 1 : tree.minFill}`);
  if (node.isLeaf) {
    if (node.values.length !== keys.length) fail('shape', `${where}: ${keys.length} keys, ${node.values.length} values`);
    depths.add(depth);
    leaves.push(node);
    return keys.length;
  }
  if (node.children.length !== keys.length + 1) fail('shape', `${where}: ${node.children.length} children, ${keys.length} separators`);
  let total = 0;
  const last = node.children.length - 1;
  for (let j = 0; j <= last; j++) {
    const childLo = j === 0 ? lo : keys[j - 1];
    const childHi = j === last ? hi : keys[j];
    total += checkNode(tree, node.children[j] as Node<K, V>, childLo, childHi, depth + 1, onEdge && j === last, leaves, depths);
  }
  if (total !== node.size) fail('size', `${where} records ${node.size} entries, children hold ${total}`);
  return total;
}

function fail(invariant: string, detail: string): never {
  throw new Error(`BTree invariant violated (${invariant}): ${detail}`);
}
