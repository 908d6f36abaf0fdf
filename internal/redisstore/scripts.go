package redisstore

import (
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/queuepass/queuepass"
)

// Ticket records and the user index are spread over small hashes that
// Redis stores as listpacks (hash-max-listpack-entries is 128 by default):
// ticketsPerBucket records by ticket number, and userBuckets hashes by a
// hash of the user ID, which stay listpacks up to about a million live
// users per event and grow into hash tables beyond.
const (
	ticketsPerBucket = 64
	userBuckets      = 8192
)

// scripts are the Lua scripts. Every script replies with a table whose
// first element is a result code (codeOK, …); each event script takes the
// seven keys of one event (Store.eventKeys).
type scripts struct {
	create, read, update, del, draw      *rueidis.Lua
	join, ticket, leave, admit, complete *rueidis.Lua
	revoke, expire, touch                *rueidis.Lua
	addCodes, setCodeUses, codes         *rueidis.Lua
	unindex                              *rueidis.Lua
	claim, finish, release, purge        *rueidis.Lua
	take                                 *rueidis.Lua
}

// newScripts builds the scripts; publish is the command that signals a
// change to the event's watchers: PUBLISH, or SPUBLISH on a cluster, where
// a shard channel reaches only the nodes serving the event's slot.
func newScripts(publish string) scripts {
	p := strings.NewReplacer(
		"TICKETS_PER_BUCKET", strconv.Itoa(ticketsPerBucket),
		"USER_BUCKETS", strconv.Itoa(userBuckets),
		"PUBLISH_COMMAND", publish,
		"ACCESS_BY_CODE", string(queuepass.AccessByCode),
		"REASON_SOLD_OUT", string(queuepass.ReasonSoldOut),
		"MAX_PROOF_CHALLENGE", strconv.Itoa(queuepass.MaxProofChallenge),
	)
	ev := func(body string) *rueidis.Lua { return rueidis.NewLuaScript(p.Replace(prelude + body)) }
	return scripts{
		create:      ev(createLua),
		read:        ev(readLua),
		update:      ev(updateLua),
		del:         ev(deleteLua),
		draw:        ev(drawLua),
		join:        ev(joinLua),
		ticket:      ev(ticketLua),
		leave:       ev(leaveLua),
		admit:       ev(admitLua),
		complete:    ev(completeLua),
		revoke:      ev(revokeLua),
		expire:      ev(expireLua),
		touch:       ev(touchLua),
		addCodes:    ev(addCodesLua),
		setCodeUses: ev(setCodeUsesLua),
		codes:       ev(codesLua),
		unindex:     rueidis.NewLuaScript(unindexLua),
		claim:       rueidis.NewLuaScript(claimLua),
		finish:      rueidis.NewLuaScript(finishLua),
		release:     rueidis.NewLuaScript(releaseLua),
		purge:       rueidis.NewLuaScript(purgeLua),
		take:        rueidis.NewLuaScript(takeLua),
	}
}

// prelude is shared by the event scripts. Ticket numbers are handled as the
// decimal strings Redis stores them as; times are Unix microseconds, exact
// in Lua's doubles until the year 2255.
const prelude = `
local M, T, L, P, U, A, R = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]

local function num(x) return string.format('%.0f', x) end

-- The event's other keys are named like the seven, with suffixes of their
-- own (E is P qp:{id}:):
--   S  hash: ticket number → when its holder was last seen (µs;
--      Store.Touch), for prequeue and waiting tickets only
--   C  hash: access code → "uses:used"
--   CI sorted set: the access codes, all scored 0, listed in byte order
--   CH sorted set: spent challenges scored by when they expire (µs)
--   D  string: the draw, the DrawHash of each pre-queue ticket in draw order
local E = string.sub(M, 1, -2)
local S, C, CI, CH, D = E .. 's', E .. 'c', E .. 'ci', E .. 'ch', E .. 'd'

-- seen returns a ticket's last seen time or ''.
local function seen(n) return redis.call('HGET', S, n) or '' end

-- changed tells the event's watchers (Store.Watch) that it changed, on the
-- channel named like the event's keys with the suffix w: P qp:{id}:w.
local function changed() redis.call('PUBLISH_COMMAND', E .. 'w', '') end

-- Records live in hashes of ticketsPerBucket tickets (by number), users
-- in userBuckets hashes (by a hash of the user ID), small enough for
-- Redis' compact listpack encoding. The bucket keys share the event's hash
-- tag, so they live in the event's slot.
local function tkey(n) return T .. ':' .. math.floor(tonumber(n) / TICKETS_PER_BUCKET) end
local function tget(n) return redis.call('HGET', tkey(n), n) end
local function tset(n, rec) redis.call('HSET', tkey(n), n, rec) end
local function ukey(user)
  local h = 0
  for i = 1, #user do h = (h * 31 + string.byte(user, i)) % USER_BUCKETS end
  return U .. ':' .. h
end
-- unlink_buckets deletes the keys base:0 … base:(count-1).
local function unlink_buckets(base, count)
  local batch = {}
  for i = 0, count - 1 do
    batch[#batch + 1] = base .. ':' .. i
    if #batch == 500 or i == count - 1 then
      redis.call('UNLINK', unpack(batch))
      batch = {}
    end
  end
end

-- A record is status (1 byte: p, w, a, c, l, e, x as the status' initial,
-- q for prequeue or waiting, r for expired by revocation, b for expired
-- by abandonment, s for closed by a closing for sold out) .. secret (16
-- bytes) .. "joined,admitted,expires,ended,user".
local function unpack_rec(rec)
  local j, ad, ex, en, user = string.match(rec, '^([^,]*),([^,]*),([^,]*),([^,]*),(.*)$', 18)
  return rec:sub(1, 1), rec:sub(2, 17), j, ad, ex, en, user
end
local function pack_rec(s, sec, j, ad, ex, en, user)
  return s .. sec .. j .. ',' .. ad .. ',' .. ex .. ',' .. en .. ',' .. user
end

-- closed_status is the status of the tickets that a closing for reason
-- closes: s for sold out, else x.
local function closed_status(reason)
  if reason == 'REASON_SOLD_OUT' then return 's' end
  return 'x'
end

-- view returns the record as the API sees it (status p, w, or the first
-- closing's x or s instead of the stored q) and the position (0 unless
-- waiting).
local function view(n, rec)
  if rec:sub(1, 1) ~= 'q' then return rec, 0 end
  if tonumber(n) < tonumber(redis.call('HGET', M, 'cb')) then
    local _, sec, j, ad, ex, en, user = unpack_rec(rec)
    local st = redis.call('HGET', M, 'cst') or 'x' -- absent: closed before closings had reasons
    return pack_rec(st, sec, j, ad, ex, redis.call('HGET', M, 'cat'), user), 0
  end
  local r = redis.call('ZRANK', L, n)
  if r then return 'w' .. rec:sub(2), r + 1 end
  return 'p' .. rec:sub(2), 0
end

local function unindex_user(user, n)
  if redis.call('HGET', ukey(user), user) == n then redis.call('HDEL', ukey(user), user) end
end

-- lookup returns the record of ticket ARGV[1] if its secret is ARGV[2],
-- or a reply to return.
local function lookup()
  if redis.call('EXISTS', M) == 0 then return nil, {1} end
  local rec = tget(ARGV[1])
  if not rec or rec:sub(2, 17) ~= ARGV[2] then return nil, {4} end
  return rec
end

-- expire ends the passes that ran out at or before at.
local function expire(at)
  local ns = redis.call('ZRANGEBYSCORE', A, '-inf', at)
  for _, n in ipairs(ns) do
    local _, sec, j, ad, ex, en, user = unpack_rec(tget(n))
    tset(n, pack_rec('e', sec, j, ad, ex, ex, user))
    unindex_user(user, n)
  end
  if #ns > 0 then
    redis.call('ZREMRANGEBYSCORE', A, '-inf', at)
    redis.call('HINCRBY', M, 'ca', -#ns)
    redis.call('HINCRBY', M, 'ce', #ns)
    changed()
  end
  return #ns
end

local function event_reply()
  return {0, redis.call('HGETALL', M), redis.call('LRANGE', R, 0, -1)}
end
`

// createLua: ARGV = seq, field, value, …. What the store keeps and a
// creation does not set (Abandoned, DrawnAt, Sold, Codes) reads as zero
// while its field is absent.
const createLua = `
local seq = redis.call('HGET', M, 'seq')
if seq then return {8, seq} end
redis.call('UNLINK', L, P, A, R, S, C, CI, CH, D)
for i = 2, #ARGV, 2 do redis.call('HSET', M, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', M, 'seq', ARGV[1], 'ver', 1, 'num', 0, 'slot', 0, 'cb', 0, 'cat', '',
  'cp', 0, 'cw', 0, 'ca', 0, 'cc', 0, 'cl', 0, 'ce', 0, 'cx', 0)
changed()
return event_reply()
`

const readLua = `
if redis.call('EXISTS', M) == 0 then return {1} end
return event_reply()
`

// updateLua: ARGV = version, at, draw ("1" if it follows), k, then k
// settings as field, value pairs (settingsArgs), then with a draw the
// pre-queue's DrawHashes in draw order (32 bytes each, concatenated) and
// its numbers in the same order.
//
// Leaving scheduled for open or paused records the draw: DrawnAt (field
// drawn) and the hashes (key D, absent for an empty pre-queue). Closing
// gives the tickets it closes the status of the event's StateReason (x
// or s); the first closing records it (field cst) with cb and cat.
const updateLua = `
local ver = redis.call('HGET', M, 'ver')
if not ver then return {1} end
if ver ~= ARGV[1] then return {7} end
local at, k = ARGV[2], tonumber(ARGV[4])
local set = {}
for i = 5, 4 + k, 2 do set[ARGV[i]] = ARGV[i + 1] end
local from, to = redis.call('HGET', M, 'state'), set.state
if from == 'scheduled' and (to == 'open' or to == 'paused') then
  local p = redis.call('ZCARD', P)
  if p > 0 then
    if ARGV[3] ~= '1' then
      local out = {9, redis.call('HGET', M, 'seed')}
      for _, n in ipairs(redis.call('ZRANGE', P, 0, -1)) do
        out[#out + 1] = n
        out[#out + 1] = string.sub(tget(n), 2, 17)
      end
      return out
    end
    -- The draw of the pre-queue as the first call read it: numbers from
    -- first on, and their hashes. Every one must still be in P (one that
    -- left changes the draw: draw again). Tickets that joined P since, while
    -- the draw was made, joined after the opening began: they follow the
    -- drawn ones in the order they joined and are not part of the draw.
    local hashes, first = ARGV[5 + k], 6 + k
    local m = #ARGV - first + 1
    for i = first, #ARGV do
      if not redis.call('ZSCORE', P, ARGV[i]) then return {10} end
    end
    if #hashes ~= 32 * m then return redis.error_reply('draw of ' .. m .. ' tickets with ' .. #hashes .. ' bytes of hashes') end
    local slot = tonumber(redis.call('HGET', M, 'slot'))
    local batch = {}
    local function place(n)
      slot = slot + 1
      batch[#batch + 1] = num(slot)
      batch[#batch + 1] = n
      if #batch >= 1000 then
        redis.call('ZADD', L, unpack(batch))
        batch = {}
      end
    end
    local drawn = {}
    for i = first, #ARGV do
      place(ARGV[i])
      drawn[ARGV[i]] = true
    end
    if p > m then
      for _, n in ipairs(redis.call('ZRANGE', P, 0, -1)) do
        if not drawn[n] then place(n) end
      end
    end
    if #batch > 0 then redis.call('ZADD', L, unpack(batch)) end
    redis.call('HSET', M, 'slot', num(slot))
    redis.call('UNLINK', P)
    redis.call('HINCRBY', M, 'cw', p)
    redis.call('HINCRBY', M, 'cp', -p)
    redis.call('SET', D, hashes)
  else
    redis.call('UNLINK', D)
  end
  redis.call('HSET', M, 'drawn', at)
elseif to == 'closed' then
  local st = closed_status(set.reason)
  -- No ticket waits any more: last seen times are of no use.
  redis.call('UNLINK', S)
  if tonumber(redis.call('HGET', M, 'cb')) == 0 then
    -- The first closing: every prequeue or waiting ticket numbered below
    -- cb reads as closed at cat, with status cst, without touching the
    -- records.
    redis.call('HSET', M, 'cb', num(tonumber(redis.call('HGET', M, 'num')) + 1), 'cat', at, 'cst', st)
  else
    -- A later closing (after a reopening) rewrites the tickets joined since.
    for _, key in ipairs({L, P}) do
      for _, n in ipairs(redis.call('ZRANGE', key, 0, -1)) do
        local _, sec, j, ad, ex, en, user = unpack_rec(tget(n))
        tset(n, pack_rec(st, sec, j, ad, ex, at, user))
      end
    end
  end
  local gone = tonumber(redis.call('HGET', M, 'cw')) + tonumber(redis.call('HGET', M, 'cp'))
  redis.call('HINCRBY', M, 'cx', gone)
  redis.call('HSET', M, 'cw', 0, 'cp', 0)
  redis.call('UNLINK', L, P)
  unlink_buckets(U, USER_BUCKETS)
  -- The live tickets left are the admitted ones.
  for _, n in ipairs(redis.call('ZRANGE', A, 0, -1)) do
    local _, _, _, _, _, _, user = unpack_rec(tget(n))
    redis.call('HSET', ukey(user), user, n)
  end
end
local fields = {}
for i = 5, 4 + k do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', M, unpack(fields))
redis.call('HINCRBY', M, 'ver', 1)
changed()
return event_reply()
`

// drawLua replies with DrawnAt (µs, "" until the draw) and the draw.
const drawLua = `
if redis.call('EXISTS', M) == 0 then return {1} end
return {0, redis.call('HGET', M, 'drawn') or '', redis.call('GET', D) or ''}
`

const deleteLua = `
local seq = redis.call('HGET', M, 'seq')
if not seq then return {1} end
unlink_buckets(U, USER_BUCKETS)
unlink_buckets(T, math.floor(tonumber(redis.call('HGET', M, 'num')) / TICKETS_PER_BUCKET) + 1)
redis.call('UNLINK', M, L, P, A, R, S, C, CI, CH, D)
changed()
return {0, seq}
`

// joinLua: ARGV = user, at, secret, challenge, challenge expiry (µs),
// code. A new ticket must first meet the event's requirements (fields diff
// and access), checked before anything is spent: a challenge of at most
// MaxProofChallenge bytes not in CH, whose entries that expired before at
// are purged first, and a code of C with a use left. A challenge is kept
// until its expiry or at, whichever is later.
const joinLua = `
local user, at = ARGV[1], ARGV[2]
local ev = redis.call('HMGET', M, 'state', 'diff', 'access')
local st = ev[1]
if not st then return {1} end
if st == 'closed' then return {2} end
local n = redis.call('HGET', ukey(user), user)
if n then
  local rec = tget(n)
  if rec then
    local v, pos = view(n, rec)
    local s = v:sub(1, 1)
    if s == 'p' or s == 'w' or s == 'a' then return {0, 0, n, v, pos, seen(n)} end
  end
end
local challenge, code = ARGV[4], ARGV[6]
local pow = tonumber(ev[2] or '0') > 0
if pow then
  if challenge == '' then return {11} end
  if #challenge > MAX_PROOF_CHALLENGE then return {12} end
  redis.call('ZREMRANGEBYSCORE', CH, '-inf', '(' .. at)
  if redis.call('ZSCORE', CH, challenge) then return {12} end
end
local uses, used
if ev[3] == 'ACCESS_BY_CODE' then
  local c = code ~= '' and redis.call('HGET', C, code)
  if not c then return {13} end
  uses, used = string.match(c, '^(%d+):(%d+)$')
  uses, used = tonumber(uses), tonumber(used)
  if used >= uses then return {13} end
end
if pow then redis.call('ZADD', CH, num(math.max(tonumber(ARGV[5]), tonumber(at))), challenge) end
if uses then
  redis.call('HSET', C, code, num(uses) .. ':' .. num(used + 1))
  redis.call('HINCRBY', M, 'used', 1)
end
n = num(redis.call('HINCRBY', M, 'num', 1))
local rec = 'q' .. ARGV[3] .. at .. ',,,,' .. user
tset(n, rec)
redis.call('HSET', ukey(user), user, n)
if st == 'scheduled' then
  redis.call('ZADD', P, n, n)
  redis.call('HINCRBY', M, 'cp', 1)
  changed()
  return {0, 1, n, 'p' .. rec:sub(2), 0}
end
redis.call('ZADD', L, redis.call('HINCRBY', M, 'slot', 1), n)
redis.call('HINCRBY', M, 'cw', 1)
changed()
return {0, 1, n, 'w' .. rec:sub(2), redis.call('ZCARD', L)}
`

// ticketLua: ARGV = number, secret.
const ticketLua = `
local rec, fail = lookup()
if not rec then return fail end
local v, pos = view(ARGV[1], rec)
return {0, v, pos, seen(ARGV[1])}
`

// touchLua: ARGV = number, secret, at. It records at as the ticket's last
// seen time if the ticket is prequeue or waiting and at is later.
const touchLua = `
local rec, fail = lookup()
if not rec then return fail end
local n, at = ARGV[1], ARGV[3]
local s = view(n, rec):sub(1, 1)
if s ~= 'p' and s ~= 'w' then return {0} end
local cur = redis.call('HGET', S, n)
if not cur or tonumber(at) > tonumber(cur) then redis.call('HSET', S, n, at) end
return {0}
`

// leaveLua: ARGV = number, secret, at.
const leaveLua = `
local rec, fail = lookup()
if not rec then return fail end
local n = ARGV[1]
local v = view(n, rec)
local s = v:sub(1, 1)
if s == 'l' then return {0, v, 0} end
if s == 'w' then
  redis.call('ZREM', L, n)
  redis.call('HINCRBY', M, 'cw', -1)
elseif s == 'p' then
  redis.call('ZREM', P, n)
  redis.call('HINCRBY', M, 'cp', -1)
else
  return {5}
end
local _, sec, j, ad, ex, en, user = unpack_rec(rec)
local out = pack_rec('l', sec, j, ad, ex, ARGV[3], user)
tset(n, out)
redis.call('HDEL', S, n)
redis.call('HINCRBY', M, 'cl', 1)
unindex_user(user, n)
changed()
return {0, out, 0}
`

// admitLua serves Admit and AdmitPaced, so that both share one admission.
// ARGV = count, at, max recent batches, and for AdmitPaced the rate per
// minute (count is then ignored). Reply: code, waiting afterwards, then
// number, record of each admitted ticket in line order.
//
// AdmitPaced keeps its mark in the event hash, field pace (µs, 0 when
// absent), and computes queuepass.PaceCredit and queuepass.PaceSpend in
// integers: every value stays below 2^53, and idiv corrects the rounding
// of the division so that it is exact.
const admitLua = `
local at = ARGV[2]
local st = redis.call('HGET', M, 'state')
if not st then return {1} end
if st ~= 'open' then return {3} end
expire(at)
local k = tonumber(ARGV[1])
local minute = 60000000 -- µs
local p, mark, mark0
local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
if ARGV[4] then
  p, k = tonumber(ARGV[4]), 0
  if p >= 1 then
    local t = tonumber(at)
    mark0 = tonumber(redis.call('HGET', M, 'pace') or '0')
    mark = math.max(mark0, t - (1000000 + idiv(minute + p - 1, p)))
    if t > mark then k = idiv((t - mark) * p, minute) end
  end
end
local maxact = tonumber(redis.call('HGET', M, 'maxact'))
if maxact > 0 then
  local room = maxact - tonumber(redis.call('HGET', M, 'ca'))
  if room < k then k = room end
end
local out = {0, 0}
local got, gone = 0, 0
if k > 0 then
  local exp = num(tonumber(at) + tonumber(redis.call('HGET', M, 'ttlus')))
  local idle = tonumber(redis.call('HGET', M, 'idle') or '0')
  local waits = {}
  -- Pop until k are admitted or the line is empty; a ticket unseen for
  -- the idle timeout is expired as abandoned instead (status b).
  while got < k do
    local popped = redis.call('ZPOPMIN', L, k - got)
    if #popped == 0 then break end
    for i = 1, #popped, 2 do
      local n = popped[i]
      local _, sec, j, ad, ex, en, user = unpack_rec(tget(n))
      local last = tonumber(j)
      local sn = redis.call('HGET', S, n)
      if sn then
        redis.call('HDEL', S, n)
        if tonumber(sn) > last then last = tonumber(sn) end
      end
      if idle > 0 and last + idle <= tonumber(at) then
        tset(n, pack_rec('b', sec, j, ad, ex, at, user))
        unindex_user(user, n)
        gone = gone + 1
      else
        waits[#waits + 1] = tonumber(at) - tonumber(j)
        local rec = pack_rec('a', sec, j, at, exp, '', user)
        tset(n, rec)
        redis.call('ZADD', A, exp, n)
        out[#out + 1] = n
        out[#out + 1] = rec
        got = got + 1
      end
    end
  end
  if gone > 0 then
    redis.call('HINCRBY', M, 'cw', -gone)
    redis.call('HINCRBY', M, 'ce', gone)
    redis.call('HINCRBY', M, 'cab', gone)
  end
  if got > 0 then
    redis.call('HINCRBY', M, 'cw', -got)
    redis.call('HINCRBY', M, 'ca', got)
    table.sort(waits)
    redis.call('RPUSH', R, at .. ':' .. got .. ':' .. num(waits[math.floor((#waits + 1) / 2)]))
    redis.call('LTRIM', R, -tonumber(ARGV[3]), -1)
  end
  if got + gone > 0 then changed() end
end
if mark then
  if got > 0 then mark = mark + idiv(got * minute + p - 1, p) end
  if mark ~= mark0 then redis.call('HSET', M, 'pace', num(mark)) end
end
out[2] = redis.call('ZCARD', L)
return out
`

// completeLua: ARGV = number, secret, at, quantity (added to the event's
// Sold, field sold).
const completeLua = `
local rec, fail = lookup()
if not rec then return fail end
local n, at = ARGV[1], ARGV[3]
local s, sec, j, ad, ex, en, user = unpack_rec(rec)
if s == 'c' then return {0, rec, 0} end
if s ~= 'a' or tonumber(ex) <= tonumber(at) then return {6} end
local out = pack_rec('c', sec, j, ad, ex, at, user)
tset(n, out)
redis.call('ZREM', A, n)
redis.call('HINCRBY', M, 'ca', -1)
redis.call('HINCRBY', M, 'cc', 1)
redis.call('HINCRBY', M, 'sold', ARGV[4])
unindex_user(user, n)
changed()
return {0, out, 0}
`

// revokeLua: ARGV = number, secret, at. The revoked record has status r,
// read as expired with reason revoked.
const revokeLua = `
local rec, fail = lookup()
if not rec then return fail end
local n, at = ARGV[1], ARGV[3]
local s, sec, j, ad, ex, en, user = unpack_rec(rec)
if s == 'r' then return {0, rec, 0} end
if s ~= 'a' or tonumber(ex) <= tonumber(at) then return {6} end
local out = pack_rec('r', sec, j, ad, ex, at, user)
tset(n, out)
redis.call('ZREM', A, n)
redis.call('HINCRBY', M, 'ca', -1)
redis.call('HINCRBY', M, 'ce', 1)
unindex_user(user, n)
changed()
return {0, out, 0}
`

// expireLua: ARGV = at.
const expireLua = `
if redis.call('EXISTS', M) == 0 then return {1} end
return {0, expire(ARGV[1])}
`

// addCodesLua: ARGV = code, uses, code, uses, …. A code that the event
// has, or that the batch lists twice, adds none and is replied after the
// result code.
const addCodesLua = `
if redis.call('EXISTS', M) == 0 then return {1} end
local seen = {}
for i = 1, #ARGV, 2 do
  local c = ARGV[i]
  if seen[c] or redis.call('HEXISTS', C, c) == 1 then return {14, c} end
  seen[c] = true
end
if #ARGV == 0 then return {0} end
local uses, h, z = 0, {}, {}
for i = 1, #ARGV, 2 do
  h[#h + 1] = ARGV[i]
  h[#h + 1] = ARGV[i + 1] .. ':0'
  z[#z + 1] = 0
  z[#z + 1] = ARGV[i]
  uses = uses + tonumber(ARGV[i + 1])
  if #h >= 1000 or i + 1 == #ARGV then
    redis.call('HSET', C, unpack(h))
    redis.call('ZADD', CI, unpack(z))
    h, z = {}, {}
  end
end
redis.call('HINCRBY', M, 'codes', #ARGV / 2)
redis.call('HINCRBY', M, 'uses', num(uses))
changed()
return {0}
`

// setCodeUsesLua: ARGV = code, uses. Sets the code's uses to uses, or to
// its used if that is more. Reply: code, "uses:used".
const setCodeUsesLua = `
if redis.call('EXISTS', M) == 0 then return {1} end
local c = redis.call('HGET', C, ARGV[1])
if not c then return {15} end
local was, used = string.match(c, '^(%d+):(%d+)$')
was, used = tonumber(was), tonumber(used)
local uses = math.max(tonumber(ARGV[2]), used)
if uses ~= was then
  c = num(uses) .. ':' .. num(used)
  redis.call('HSET', C, ARGV[1], c)
  redis.call('HINCRBY', M, 'uses', num(uses - was))
  changed()
end
return {0, c}
`

// codesLua: ARGV = after ("" for the first), limit. Reply: code, then
// code, "uses:used" of each.
const codesLua = `
if redis.call('EXISTS', M) == 0 then return {1} end
local min = '-'
if ARGV[1] ~= '' then min = '(' .. ARGV[1] end
local out = {0}
for _, c in ipairs(redis.call('ZRANGEBYLEX', CI, min, '+', 'LIMIT', 0, ARGV[2])) do
  out[#out + 1] = c
  out[#out + 1] = redis.call('HGET', C, c)
end
return out
`

// unindexLua removes an event from the index (KEYS[1]) if its entry still
// has the sequence ARGV[2] of the deleted event. ARGV = id, seq.
const unindexLua = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('ZREM', KEYS[1], ARGV[1]) end
return {0}
`

// The idempotency scripts take KEYS = records hash, creation-time sorted set.

// claimLua: ARGV = key, created (µs), record. Reply: code, 1 if claimed
// else the stored record.
const claimLua = `
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if rec then return {0, rec} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {0, 1}
`

// finishLua: ARGV = key, created (µs), record.
const finishLua = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {0}
`

// releaseLua: ARGV = key.
const releaseLua = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return {0}
`

// purgeLua forgets up to ARGV[2] keys created before ARGV[1] (µs) and
// replies with how many it forgot.
const purgeLua = `
local keys = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, k in ipairs(keys) do
  redis.call('HDEL', KEYS[1], k)
  redis.call('ZREM', KEYS[2], k)
end
return {0, #keys}
`

// takeLua takes a token from the bucket KEYS[1] with the arithmetic of
// queuepass.TakeToken: ARGV = at T, interval I and tolerance τ, in µs,
// clamped by the caller. The key holds the mark M (absent: 0) and expires
// when the bucket is full again, at T ≥ M, plus a second for clocks that
// differ between nodes. Reply: code, 1 if taken else 0, retry after (µs).
// Every value stays below 2^53, so the doubles are exact integers, and
// the expiry in ms below 2^39, far from where dividing by 1000 could
// round across an integer.
const takeLua = `
local t, i, tau = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local m = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), t)
if m - t > tau then return {0, 0, m - tau - t} end
m = m + i
local ms = math.ceil((m - t) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', m), 'PX', string.format('%.0f', ms))
return {0, 1, 0}
`
