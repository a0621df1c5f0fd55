import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { groupsBy } from '../../src/util/groups'

test('groupsBy: every item once, one key per group, at most max each, input order kept within a key', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 }),
      fc.integer({ min: 1, max: 7 }),
      (keys, max) => {
        const items = keys.map((key, i) => ({ key, i }))
        const groups = groupsBy(items, (x) => x.key, max)
        assert.deepEqual(
          groups
            .flat()
            .map((x) => x.i)
            .sort((a, b) => a - b),
          items.map((x) => x.i),
        )
        for (const g of groups) {
          assert.ok(g.length >= 1 && g.length <= max)
          assert.equal(new Set(g.map((x) => x.key)).size, 1)
        }
        for (const key of new Set(keys)) {
          const order = groups
            .flat()
            .filter((x) => x.key === key)
            .map((x) => x.i)
          assert.deepEqual(
            order,
            [...order].sort((a, b) => a - b),
            `key ${key} in input order`,
          )
        }
      },
    ),
  )
})

test('groupsBy: a key with more than max items is split, the full groups first', () => {
  const groups = groupsBy([1, 2, 3, 4, 5, 6, 7], (n) => (n === 7 ? 'b' : 'a'), 3)
  assert.deepEqual(groups, [[1, 2, 3], [4, 5, 6], [7]])
})
