-- wrk script of `make bench`: cycles through requests pre-signed by bench/run.py.
--
-- Usage: wrk -s bench/signed.lua URL -- POOL_FILE THREADS
-- POOL_FILE holds one request a line: path, x-amz-date, Authorization, Host and body,
-- tab-separated. Thread i of THREADS takes lines i, i+THREADS, ... so no two threads
-- send the same request (distinct Hard-IDs stay distinct).
-- With BENCH_RATE_PER_THREAD set (requests/s), each thread sends on a fixed schedule
-- (open loop, like wrk2): a slow answer does not delay the requests due after it,
-- unless every connection is busy.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local pool = {}
local size, index, cycles = 0, 0, 0
local threads_started = 0

function setup(thread)
  thread:set("thread_index", threads_started)
  threads_started = threads_started + 1
end

function init(args)
  local file, threads = args[1], tonumber(args[2])
  local line_number = 0
  for line in io.lines(file) do
    if line_number % threads == thread_index then
      local path, date, authorization, host, body =
        line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      size = size + 1
      pool[size] = wrk.format("POST", path, {
        ["Host"] = host,
        ["Content-Type"] = "application/json",
        ["X-Amz-Date"] = date,
        ["Authorization"] = authorization,
      }, body)
    end
    line_number = line_number + 1
  end
end

function request()
  if size == 0 then
    -- wrk checks the script once on its main thread, where init() has not run.
    return wrk.format("POST", "/", { ["Content-Type"] = "application/json" }, "{}")
  end
  index = index + 1
  if index > size then
    index, cycles = 1, cycles + 1
  end
  return pool[index]
end

local rate = tonumber(os.getenv("BENCH_RATE_PER_THREAD") or "0")
if rate > 0 then
  local interval = 1000 / rate
  local next_slot = nil
  function delay()
    local now = now_ms()
    next_slot = next_slot or now
    local wait = next_slot - now
    next_slot = next_slot + interval
    if wait <= 0 then
      return 0
    end
    return math.floor(wait + 0.5)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max))
end
