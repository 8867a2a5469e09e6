// The Redis engine's Lua scripts: each call is one script (EVALSHA through ioredis' defineCommand), so each
// is atomic. Every key of an account shares the hash tag `{acct:<id>}`, so the scripts run on Redis
// Cluster. Lua numbers are doubles: amounts are integers of 10^-6 (see counters.ts), tokens whole numbers,
// both far below 2^53; they are written back with %d, never with Lua's default %.14g.
//
// Keys of an account (A = `{acct:<id>}`):
//   A:c  hash  level -> "limitAmount,limitTokens,spentAmount,spentTokens,heldAmount,heldTokens" ('-' = no limit)
//   A:r  hash  reservation id -> "expiresMs,amount,tokens,createdMs,agent,person", then a NUL before each level
//   A:e  zset  reservation id by expiry (lazy expiry: each hold releases up to 64 due ones)
//   A:m  hash  gen (present once the account is loaded), rb (the token of a rebuild in progress)
//   A:p  hash  write id -> pending write {pre = ops applied before its commit, post = ops for after, dl}
//   A:pd zset  write id by deadline: one past its deadline is a writer that died (the account is stale)
//   A:d  list  while a rebuild runs: writes confirmed ('w' .. entry) and holds released ('r' .. id)

import { REDIS_MAX_LIMIT } from './counter-math.js';

const PRELUDE = `
local C, R, E, M, P, PD, D = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
-- The largest limit kept (counter-math.ts, REDIS_MAX_LIMIT): what redisLimit makes of any larger one.
local MAX_LIMIT = ${REDIS_MAX_LIMIT}

local function fmt(n) return string.format('%d', n) end

local function unpack_c(v)
  local la, lt, sa, st, ha, ht = string.match(v, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$')
  return { la = tonumber(la), lt = tonumber(lt), sa = tonumber(sa), st = tonumber(st), ha = tonumber(ha), ht = tonumber(ht) }
end

local function pack_c(c)
  return (c.la and fmt(c.la) or '-') .. ',' .. (c.lt and fmt(c.lt) or '-') .. ',' .. fmt(c.sa) .. ',' .. fmt(c.st) .. ',' .. fmt(c.ha) .. ',' .. fmt(c.ht)
end

local function limit_level(l)
  if string.sub(l, 1, 8) == 'session/' then
    return 'sessioncap/' .. string.match(l, '^session/([^/]*)/')
  end
  return l
end

local function get_c(l)
  local v = redis.call('HGET', C, l)
  if v then return unpack_c(v) end
  return nil
end

-- The counters of one call, read once and written once: want() each level the call changes or reads,
-- load() them all with one HMGET (a level not loaded stays nil in s.c), change them in memory (marking
-- each changed one in s.dirty), store() the changed ones with one HSET.
local function counters()
  local s = { c = {}, names = {}, index = {}, dirty = {} }
  function s.want(l)
    if not s.index[l] then
      s.names[#s.names + 1] = l
      s.index[l] = #s.names
    end
  end
  function s.load()
    if #s.names == 0 then return end
    local raw = redis.call('HMGET', C, unpack(s.names))
    for i, n in ipairs(s.names) do s.c[n] = raw[i] and unpack_c(raw[i]) or nil end
  end
  function s.store()
    local args = {}
    for _, l in ipairs(s.names) do
      if s.dirty[l] then
        args[#args + 1] = l
        args[#args + 1] = pack_c(s.c[l])
      end
    end
    if #args > 0 then redis.call('HSET', C, unpack(args)) end
    s.dirty = {}
  end
  return s
end

local function parse_res(v)
  local nl = string.find(v, '\\0', 1, true)
  local head = nl and string.sub(v, 1, nl - 1) or v
  local exp, a, k, cr, agent, rest = string.match(head, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),(.*)$')
  -- A hold carved from a lease names it after its person (person,lease); who is the field as stored.
  local person, lease = string.match(rest, '^([^,]*),(.*)$')
  if not person then person, lease = rest, '' end
  local levels = {}
  if nl then
    for l in string.gmatch(string.sub(v, nl + 1), '[^%z]+') do levels[#levels + 1] = l end
  end
  return { exp = tonumber(exp), a = tonumber(a), k = tonumber(k), cr = tonumber(cr), agent = agent, person = person, lease = lease, who = rest, levels = levels }
end

-- The entry of a reservation in R, as parse_res reads it: expiry, amount, tokens, created (numbers), agent,
-- person (then ',' and the lease it was carved from, for a hold answered from a lease), levels.
local function pack_res(exp, a, k, cr, agent, person, levels, lease)
  local who = (lease and lease ~= '') and (person .. ',' .. lease) or person
  return fmt(exp) .. ',' .. fmt(a) .. ',' .. fmt(k) .. ',' .. fmt(cr) .. ',' .. agent .. ',' .. who .. '\\0' .. table.concat(levels, '\\0')
end

local function rebuilding() return redis.call('HEXISTS', M, 'rb') == 1 end

-- Holds released by the ids ids[first..]: each reservation taken off R and E, and what they held taken
-- off each level ONCE per distinct level (a commit of 25 reservations on the same 6 levels reads and
-- writes 6 counters, not 150). 'record' writes each id to D while a rebuild runs. Returns how many were held.
local function unhold_many(ids, first, record)
  local s, delta, n = counters(), {}, 0
  local rb = record and rebuilding()
  for i = first, #ids do
    local id = ids[i]
    if id ~= '' then
      local v = redis.call('HGET', R, id)
      if v then
        local r = parse_res(v)
        for _, l in ipairs(r.levels) do
          local d = delta[l]
          if not d then
            d = { 0, 0 }
            delta[l] = d
            s.want(l)
          end
          d[1] = d[1] + r.a
          d[2] = d[2] + r.k
        end
        redis.call('HDEL', R, id)
        redis.call('ZREM', E, id)
        n = n + 1
      end
      if rb then redis.call('RPUSH', D, 'r' .. id) end
    end
  end
  s.load()
  for l, d in pairs(delta) do
    local c = s.c[l]
    if c then
      c.ha = c.ha - d[1]
      c.ht = c.ht - d[2]
      s.dirty[l] = true
    end
  end
  s.store()
  return n
end

local function expire_due(now)
  local due = redis.call('ZRANGEBYSCORE', E, '-inf', now, 'LIMIT', 0, 64)
  if #due > 0 then unhold_many(due, 1, false) end
end

local function stale(now)
  return #redis.call('ZRANGEBYSCORE', PD, '-inf', now, 'LIMIT', 0, 1) > 0 and 1 or 0
end

-- The levels an op changes.
local function op_levels(op)
  return op.t == 'sp' and op.l or { op.l }
end

-- One op on a call's counters (sign 1 applies it, -1 undoes it): the one place each op kind's rule is
-- written. Ops: sp (spend on levels), lv (a limit's value; pa/pk the value it replaced), ld (a limit moved
-- by a delta; an amount limit it raises stops at MAX_LIMIT, as a rebuild from PostgreSQL would keep it: a
-- raise is a transfer's receiving side, applied after its commit and never undone). Only loaded levels change, or only those in 'only' when given (a rebuild replaying writes
-- onto the levels it just loaded).
local function apply_to(s, op, sign, only)
  for _, l in ipairs(op_levels(op)) do
    local c = s.c[l]
    if c and (only == nil or only[l]) then
      if op.t == 'sp' then
        c.sa = c.sa + sign * tonumber(op.a)
        c.st = c.st + sign * tonumber(op.k)
      elseif op.t == 'lv' then
        if sign == 1 then c.la, c.lt = tonumber(op.a), tonumber(op.k) else c.la, c.lt = tonumber(op.pa), tonumber(op.pk) end
      elseif op.t == 'ld' then
        local da, dk = sign * tonumber(op.a), sign * tonumber(op.k)
        if da ~= 0 then c.la = math.min((c.la or 0) + da, MAX_LIMIT) end
        if dk ~= 0 then c.lt = (c.lt or 0) + dk end
      end
      s.dirty[l] = true
    end
  end
end

-- Ops applied in their order (sign and only as apply_to), their counters read and written once.
local function apply_ops(ops, sign, only)
  local s = counters()
  for _, op in ipairs(ops) do for _, l in ipairs(op_levels(op)) do s.want(l) end end
  s.load()
  for _, op in ipairs(ops) do apply_to(s, op, sign, only) end
  s.store()
end

-- A counter's figures with the limit it answers to (lim: the counter of its limit level, or nil):
-- la, lt ('-' when none), sa, st, ha, ht.
local function figures_of(c, lim, out)
  out[#out + 1] = lim and lim.la and fmt(lim.la) or '-'
  out[#out + 1] = lim and lim.lt and fmt(lim.lt) or '-'
  out[#out + 1] = fmt(c.sa)
  out[#out + 1] = fmt(c.st)
  out[#out + 1] = fmt(c.ha)
  out[#out + 1] = fmt(c.ht)
end

-- A loaded level's figures, read from Redis.
local function figures(l, out)
  figures_of(get_c(l), get_c(limit_level(l)), out)
end

-- Levels (and the levels whose limits they use) that are not loaded.
local function missing(levels)
  local out = {}
  if redis.call('HEXISTS', M, 'gen') == 0 then return { '*' } end
  for _, l in ipairs(levels) do
    if redis.call('HEXISTS', C, l) == 0 then out[#out + 1] = l end
    local ll = limit_level(l)
    if ll ~= l and redis.call('HEXISTS', C, ll) == 0 then out[#out + 1] = ll end
  end
  return out
end
`;

/**
 * The holds of one account that arrived together, each one atomic check-and-hold in order (as if each were
 * its own call, the batch as a whole atomic too). KEYS c r e m p pd d; ARGV count, then per hold: now, id,
 * expiresMs, amount, tokens, agent, person, level count, level...
 * Returns one reply per hold, { 'ok', stale, figures... } or { 'denied', stale, index, measure, short,
 * figures... }, or { 'missing', level... } for the whole batch (nothing held) when a level is not loaded.
 * The hot path: every counter the batch needs (each level and the level whose limit it uses) is read with
 * one HMGET and parsed once, and written back with one HSET; read again only when lazy expiry released
 * something. One call for many holds: the script's and the client's per-call costs are paid once.
 */
const HOLD = `
local holds, pos, s = {}, 2, counters()
for h = 1, tonumber(ARGV[1]) do
  local x = { now = tonumber(ARGV[pos]), id = ARGV[pos + 1], exp = tonumber(ARGV[pos + 2]), a = tonumber(ARGV[pos + 3]),
              k = tonumber(ARGV[pos + 4]), agent = ARGV[pos + 5], person = ARGV[pos + 6], levels = {} }
  local n = tonumber(ARGV[pos + 7])
  pos = pos + 8
  for i = 1, n do
    local l = ARGV[pos]
    pos = pos + 1
    x.levels[i] = l
    s.want(l)
    s.want(limit_level(l))
  end
  holds[h] = x
end
if redis.call('HEXISTS', M, 'gen') == 0 then return { 'missing', '*' } end
s.load()
local miss = {}
for _, n in ipairs(s.names) do if not s.c[n] then miss[#miss + 1] = n end end
if #miss > 0 then return { 'missing', unpack(miss) } end
local cs = s.c
local out = {}
for h, x in ipairs(holds) do
  local due = redis.call('ZRANGEBYSCORE', E, '-inf', x.now, 'LIMIT', 0, 64)
  if #due > 0 then
    s.store()
    unhold_many(due, 1, false)
    s.load()
  end
  local st = stale(x.now)
  local function figs(reply)
    for _, l in ipairs(x.levels) do figures_of(cs[l], cs[limit_level(l)], reply) end
    return reply
  end
  local denied = nil
  for i, l in ipairs(x.levels) do
    local c, lim = cs[l], cs[limit_level(l)]
    if lim.la then
      local left = lim.la - c.sa - c.ha
      if x.a > left or left <= 0 then denied = { 'denied', st, i - 1, 'amount', fmt(x.a - left) } break end
    end
    if lim.lt then
      local left = lim.lt - c.st - c.ht
      if x.k > left or left <= 0 then denied = { 'denied', st, i - 1, 'tokens', fmt(x.k - left) } break end
    end
  end
  if denied then
    out[h] = figs(denied)
  else
    for _, l in ipairs(x.levels) do
      local c = cs[l]
      c.ha = c.ha + x.a
      c.ht = c.ht + x.k
      s.dirty[l] = true
    end
    redis.call('HSET', R, x.id, pack_res(x.exp, x.a, x.k, x.now, x.agent, x.person, x.levels))
    redis.call('ZADD', E, x.exp, x.id)
    out[h] = figs({ 'ok', st })
  end
end
s.store()
return out
`;

/**
 * Holds a process answered from its leases (see hold-leases.ts), made reservations of their own: each gets
 * its entry in R and E, and its lease's entry gives up what it held for them, so the levels' held figures
 * do not change. A hold already carved is skipped (a call tried again). What a lease cannot give (it
 * expired while its process stalled past the grace) is added to its levels, and counted in the reply
 * { 'ok', forced holds }. KEYS c r e m p pd d; ARGV lease count, then per lease: leaseId, hold count, level
 * count, level..., then per hold: id, expiresMs, amount, tokens, createdMs, agent, person
 */
const CARVE = `
if redis.call('HEXISTS', M, 'gen') == 0 then return { 'missing', '*' } end
local pos, forced = 2, 0
for _ = 1, tonumber(ARGV[1]) do
  local lid, count, nl = ARGV[pos], tonumber(ARGV[pos + 1]), tonumber(ARGV[pos + 2])
  local levels = {}
  for i = 1, nl do levels[i] = ARGV[pos + 2 + i] end
  pos = pos + 3 + nl
  local ta, tk = 0, 0
  for h = 1, count do
    local id, a, k = ARGV[pos], tonumber(ARGV[pos + 2]), tonumber(ARGV[pos + 3])
    if redis.call('HEXISTS', R, id) == 0 then
      redis.call('HSET', R, id, pack_res(tonumber(ARGV[pos + 1]), a, k, tonumber(ARGV[pos + 4]), ARGV[pos + 5], ARGV[pos + 6], levels, lid))
      redis.call('ZADD', E, tonumber(ARGV[pos + 1]), id)
      ta = ta + a
      tk = tk + k
    end
    pos = pos + 7
  end
  local v = redis.call('HGET', R, lid)
  if v then
    local l = parse_res(v)
    local ga, gk = math.min(ta, l.a), math.min(tk, l.k)
    redis.call('HSET', R, lid, pack_res(l.exp, l.a - ga, l.k - gk, l.cr, l.agent, l.person, l.levels))
    ta, tk = ta - ga, tk - gk
  end
  if ta > 0 or tk > 0 then
    local s = counters()
    for _, l in ipairs(levels) do s.want(l) end
    s.load()
    for _, l in ipairs(levels) do
      local c = s.c[l]
      if c then
        c.ha = c.ha + ta
        c.ht = c.ht + tk
        s.dirty[l] = true
      end
    end
    s.store()
    forced = forced + 1
  end
end
return { 'ok', forced }
`;

/** KEYS c r e m p pd d; ARGV now, level... */
const READ = `
local now = tonumber(ARGV[1])
local levels = {}
for i = 2, #ARGV do levels[#levels + 1] = ARGV[i] end
local miss = missing(levels)
if #miss > 0 then return { 'missing', unpack(miss) } end
expire_due(now)
local out = { 'ok', stale(now) }
for _, l in ipairs(levels) do figures(l, out) end
return out
`;

/**
 * A write that uses room, before its PostgreSQL commit: applies its 'pre' ops now and keeps the write
 * pending until confirm or rollback. A check may refuse it first (a limit below what is used, a transfer
 * of more than is unused): nothing changes then.
 * KEYS c r e m p pd d; ARGV writeId, deadlineMs, now, pendingJson ({pre, post, check}), level...
 * ('lmin' pre ops become 'lv' with the smaller of the current and the new limit.)
 */
const PEND = `
local wid, dl, now, entry = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), cjson.decode(ARGV[4])
local levels = {}
for i = 5, #ARGV do levels[#levels + 1] = ARGV[i] end
-- Spend may name levels that are not loaded, even before the account is (a later load counts this write
-- while it is pending); a limit change needs its levels loaded.
if entry.needs then
  local miss = missing(entry.needs)
  if #miss > 0 then return { 'missing', unpack(miss) } end
end
expire_due(now)
-- Every counter the write changes or reads (its ops' levels, the levels answered and the levels whose
-- limits they use, the checked level) fetched by one HMGET, checked and changed in memory, the changed
-- ones written by one HSET.
local s = counters()
for _, op in ipairs(entry.pre) do for _, l in ipairs(op_levels(op)) do s.want(l) end end
for _, l in ipairs(levels) do
  s.want(l)
  s.want(limit_level(l))
end
local ch = entry.check
if ch then s.want(ch.l) end
s.load()
if ch then
  local c = s.c[ch.l]
  if ch.t == 'limit' then
    local na, nk = tonumber(ch.a), tonumber(ch.k)
    if na and na < c.sa + c.ha then return { 'refused', 'amount', fmt(c.sa + c.ha) } end
    if nk and nk < c.st + c.ht then return { 'refused', 'tokens', fmt(c.st + c.ht) } end
  elseif ch.t == 'unused' then
    local a, k = tonumber(ch.a), tonumber(ch.k)
    if a > 0 and (c.la == nil or a > c.la - c.sa - c.ha) then return { 'refused', 'amount', c.la and fmt(c.la - c.sa - c.ha) or '-' } end
    if k > 0 and (c.lt == nil or k > c.lt - c.st - c.ht) then return { 'refused', 'tokens', c.lt and fmt(c.lt - c.st - c.ht) or '-' } end
  end
end
for _, op in ipairs(entry.pre) do
  if op.t == 'lmin' then
    local c = s.c[op.l]
    op.t = 'lv'
    op.pa = c.la and fmt(c.la) or '-'
    op.pk = c.lt and fmt(c.lt) or '-'
    local na, nk = tonumber(op.a), tonumber(op.k)
    op.a = (c.la and na) and fmt(math.min(c.la, na)) or (c.la and fmt(c.la) or op.a)
    op.k = (c.lt and nk) and fmt(math.min(c.lt, nk)) or (c.lt and fmt(c.lt) or op.k)
  end
  apply_to(s, op, 1, nil)
end
s.store()
entry.check = nil
entry.needs = nil
entry.dl = dl
redis.call('HSET', P, wid, cjson.encode(entry))
redis.call('ZADD', PD, dl, wid)
local out = { 'ok' }
for _, l in ipairs(levels) do
  if s.c[l] then figures_of(s.c[l], s.c[limit_level(l)], out) end
end
return out
`;

/** After the commit: the write's 'post' ops, and the holds it replaced released. KEYS c r e m p pd d; ARGV writeId, releaseId... */
const CONFIRM = `
local wid = ARGV[1]
local v = redis.call('HGET', P, wid)
if v then
  local entry = cjson.decode(v)
  apply_ops(entry.post, 1, nil)
  redis.call('HDEL', P, wid)
  redis.call('ZREM', PD, wid)
  if rebuilding() then redis.call('RPUSH', D, 'w' .. wid .. '\\n' .. v) end
end
unhold_many(ARGV, 2, true)
return 'ok'
`;

/** The write did not commit: its 'pre' ops undone. KEYS c r e m p pd d; ARGV writeId */
const ROLLBACK = `
local v = redis.call('HGET', P, ARGV[1])
if not v then return 'gone' end
local entry = cjson.decode(v)
local undo = {}
for i = #entry.pre, 1, -1 do undo[#undo + 1] = entry.pre[i] end
apply_ops(undo, -1, nil)
redis.call('HDEL', P, ARGV[1])
redis.call('ZREM', PD, ARGV[1])
return 'ok'
`;

/** Holds released after their PostgreSQL row was (DELETE, expiry sweep, a failed insert). KEYS c r e m p pd d; ARGV id... */
const UNHOLD = `
return unhold_many(ARGV, 1, true)
`;

/** A rebuild starts: from now on confirmations and releases are also written down for it. KEYS c r e m p pd d; ARGV token */
const REBUILD_BEGIN = `
redis.call('HSET', M, 'rb', ARGV[1])
redis.call('DEL', D)
local ids = redis.call('HKEYS', P)
return ids
`;

/**
 * What a rebuild must know besides PostgreSQL: write ids to look up, loaded and held levels, and Redis'
 * reservations younger than 'recent' (their rows may be on their way, or already resolved).
 * KEYS c r e m p pd d; ARGV now, recentMs
 */
const REBUILD_STATE = `
local now, recent = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids = redis.call('HKEYS', P)
for _, x in ipairs(redis.call('LRANGE', D, 0, -1)) do
  if string.sub(x, 1, 1) == 'w' then ids[#ids + 1] = string.sub(x, 2, string.find(x, '\\n', 1, true) - 1) end
end
local seen, levels = {}, {}
for _, l in ipairs(redis.call('HKEYS', C)) do if not seen[l] then seen[l] = true; levels[#levels + 1] = l end end
local young = {}
local all = redis.call('HGETALL', R)
for i = 1, #all, 2 do
  local r = parse_res(all[i + 1])
  for _, l in ipairs(r.levels) do if not seen[l] then seen[l] = true; levels[#levels + 1] = l end end
  if r.cr >= now - recent then young[#young + 1] = all[i] end
end
return { cjson.encode(ids), cjson.encode(levels), cjson.encode(young) }
`;

/**
 * The rebuild's result, applied if no other rebuild took over meanwhile. ARGV token, now, mode ('full' |
 * 'part'), recentMs, json {levels: {level: [la, lt, sa, st]}, active: [[id, exp, a, k, created, agent,
 * person, levels...]], insnap: [write ids PostgreSQL's snapshot holds], resolved: [ids of Redis'
 * reservations whose rows the snapshot has as committed, released or expired]}.
 * full: every loaded level and every held reservation recomputed; part: the levels given get PostgreSQL's
 * limits and spend (a level already loaded keeps its held figures), and a write the snapshot holds keeps its
 * pending entry while its confirmation still owes other levels their after-commit ops.
 * KEYS c r e m p pd d
 */
const REBUILD_APPLY = `
local token, now, mode, recent = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
if redis.call('HGET', M, 'rb') ~= token then return 'busy' end
local data = cjson.decode(ARGV[5])
local insnap = {}
for _, w in ipairs(data.insnap) do insnap[w] = true end
local released, confirmed = {}, {}
for _, x in ipairs(redis.call('LRANGE', D, 0, -1)) do
  if string.sub(x, 1, 1) == 'r' then released[string.sub(x, 2)] = true
  else
    local nl = string.find(x, '\\n', 1, true)
    confirmed[#confirmed + 1] = { id = string.sub(x, 2, nl - 1), entry = cjson.decode(string.sub(x, nl + 1)) }
  end
end
local only = {}
for l, _ in pairs(data.levels) do only[l] = true end
if mode == 'full' then
  -- Holds: PostgreSQL's active ones, and Redis' own that PostgreSQL may not have yet (made within
  -- 'recent'), less those released meanwhile and those expired.
  local holds = {}
  for _, id in ipairs(data.resolved) do released[id] = true end
  local snapshot = {}
  for _, h in ipairs(data.active) do
    if not released[h[1]] and tonumber(h[2]) > now then holds[h[1]] = h; snapshot[h[1]] = true end
  end
  local all = redis.call('HGETALL', R)
  for i = 1, #all, 2 do
    local id, r = all[i], parse_res(all[i + 1])
    if holds[id] == nil and not released[id] and r.exp > now and r.cr >= now - recent then
      local h = { id, fmt(r.exp), fmt(r.a), fmt(r.k), fmt(r.cr), r.agent, r.who }
      for _, l in ipairs(r.levels) do h[#h + 1] = l end
      holds[id] = h
      -- A hold carved from a lease whose row PostgreSQL does not have yet is still inside what the snapshot
      -- says its lease holds (its amount less its carved rows'): taken out of it, so it counts once.
      if snapshot[r.lease] then
        local from = holds[r.lease]
        from[3] = fmt(math.max(0, tonumber(from[3]) - r.a))
        from[4] = fmt(math.max(0, tonumber(from[4]) - r.k))
      end
    end
  end
  redis.call('DEL', C, R, E)
  for l, f in pairs(data.levels) do
    redis.call('HSET', C, l, f[1] .. ',' .. f[2] .. ',' .. f[3] .. ',' .. f[4] .. ',0,0')
  end
  for id, h in pairs(holds) do
    local lv = {}
    for j = 8, #h do lv[#lv + 1] = h[j] end
    redis.call('HSET', R, id, h[2] .. ',' .. h[3] .. ',' .. h[4] .. ',' .. h[5] .. ',' .. h[6] .. ',' .. h[7] .. '\\0' .. table.concat(lv, '\\0'))
    redis.call('ZADD', E, tonumber(h[2]), id)
    for _, l in ipairs(lv) do
      local c = get_c(l)
      if c then
        c.ha = c.ha + tonumber(h[3])
        c.ht = c.ht + tonumber(h[4])
        redis.call('HSET', C, l, pack_c(c))
      end
    end
  end
else
  -- Loaded levels keep their held figures (the scripts keep them equal to their reservations); limits
  -- and spend are PostgreSQL's.
  for l, f in pairs(data.levels) do
    local c = get_c(l)
    redis.call('HSET', C, l, f[1] .. ',' .. f[2] .. ',' .. f[3] .. ',' .. f[4] .. ',' .. (c and fmt(c.ha) or '0') .. ',' .. (c and fmt(c.ht) or '0'))
  end
end
-- Writes PostgreSQL's snapshot does not hold yet: pending ones count their 'pre' ops, confirmed ones all.
local replay = {}
local pend = redis.call('HGETALL', P)
for i = 1, #pend, 2 do
  local wid, entry = pend[i], cjson.decode(pend[i + 1])
  if insnap[wid] then
    -- Committed, its figures in the snapshot. A load of some levels recomputed only those: the levels
    -- outside it still owe the write's after-commit ops (a raised limit), which its confirmation applies,
    -- so the entry stays for them.
    local rest = {}
    if mode ~= 'full' then
      for _, op in ipairs(entry.post) do
        for _, l in ipairs(op_levels(op)) do
          if not only[l] then rest[#rest + 1] = op; break end
        end
      end
    end
    if #rest > 0 then
      entry.post = rest
      entry.pre = {}
      redis.call('HSET', P, wid, cjson.encode(entry))
    else
      redis.call('HDEL', P, wid)
      redis.call('ZREM', PD, wid)
    end
  elseif mode == 'full' and entry.dl <= now then
    redis.call('HDEL', P, wid)
    redis.call('ZREM', PD, wid)
  else
    for _, op in ipairs(entry.pre) do replay[#replay + 1] = op end
  end
end
for _, w in ipairs(confirmed) do
  if not insnap[w.id] then
    for _, op in ipairs(w.entry.pre) do replay[#replay + 1] = op end
    for _, op in ipairs(w.entry.post) do replay[#replay + 1] = op end
  end
end
apply_ops(replay, 1, only)
if mode == 'full' then redis.call('HSET', M, 'gen', token) end
redis.call('HDEL', M, 'rb')
redis.call('DEL', D)
return 'ok'
`;

export const SCRIPTS = {
  tmHold: HOLD,
  tmCarve: CARVE,
  tmRead: READ,
  tmPend: PEND,
  tmConfirm: CONFIRM,
  tmRollback: ROLLBACK,
  tmUnhold: UNHOLD,
  tmRebuildBegin: REBUILD_BEGIN,
  tmRebuildState: REBUILD_STATE,
  tmRebuildApply: REBUILD_APPLY,
} as const;

export type ScriptName = keyof typeof SCRIPTS;

/** Each script with the shared functions in front. */
export function scriptSource(name: ScriptName): string {
  return PRELUDE + SCRIPTS[name];
}

/**
 * The seven keys of an account, in the order every script reads them. `namespace` keeps deployments (and
 * test runs) sharing a Redis apart; it sits inside the hash tag so each account is still its own slot.
 */
export function accountKeys(namespace: string, account: string): string[] {
  const tag = `{${namespace}:acct:${account}}`;
  return [`${tag}:c`, `${tag}:r`, `${tag}:e`, `${tag}:m`, `${tag}:p`, `${tag}:pd`, `${tag}:d`];
}
