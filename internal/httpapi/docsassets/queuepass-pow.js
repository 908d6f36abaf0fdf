// QueuePass proof of work, for browsers: a solver for the challenges of
// POST /v1/events/{event_id}/challenges, and a join that gets one, solves
// it and joins. No dependencies and no build step: include this file
// (<script src=".../docs/queuepass-pow.js">) or copy it into a waiting page.
// It uses no DOM, so it also runs in a Web Worker.
//
//   QueuePass.solveChallenge(challenge, difficulty, {onProgress, signal})
//     → Promise<nonce>
//   QueuePass.join(eventId, userId, {accessCode, baseURL, onChallenge,
//     onProgress, signal}) → Promise<{status, ticket, nonce}>
//
// The rule: a nonce solves a challenge when SHA-256(challenge ‖ nonce), over
// their ASCII bytes, begins with `difficulty` zero bits. Each hash succeeds
// with probability 2^-difficulty, so a solve takes 2^difficulty hashes on
// average (at 20 bits, about a million, a second or so in a desktop
// browser, a few on a phone); the server checks a nonce with one hash.
//
// WebCrypto's digest() is asynchronous, one promise per hash, far too slow
// for a million small hashes, so this file carries its own compact,
// synchronous SHA-256 (FIPS 180-4). Nonces are the decimal numbers "0",
// "1", "2", … in turn, like the Go client's, tried in chunks of about 50 ms
// with a yield to the event loop between chunks, so the page stays
// responsive and a signal can stop the search.
(function (root) {
  "use strict";

  // SHA-256's round constants and initial state (FIPS 180-4, 4.2.2, 5.3.3).
  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var H0 = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  ]);
  var W = new Int32Array(64); // the message schedule, reused by every block

  // paddedLength is the buffer size sha256 needs for an n-byte message:
  // the message, a 0x80 byte and the 64-bit length, in whole 64-byte blocks.
  function paddedLength(n) {
    return (n + 9 + 63) & ~63;
  }

  // sha256 sets h (an Int32Array of 8 words) to the SHA-256 of the first n
  // bytes of buf, a Uint8Array of at least paddedLength(n) bytes; it
  // overwrites the bytes after the message with the padding. All the
  // arithmetic is on 32-bit integers: x | 0 wraps a sum modulo 2^32.
  function sha256(buf, n, h) {
    var end = paddedLength(n);
    buf[n] = 0x80;
    buf.fill(0, n + 1, end - 4); // messages are < 512 MiB: the length's high bytes are 0
    var bits = n * 8;
    buf[end - 4] = bits >>> 24;
    buf[end - 3] = bits >>> 16;
    buf[end - 2] = bits >>> 8;
    buf[end - 1] = bits;
    h.set(H0);
    for (var off = 0; off < end; off += 64) {
      block(buf, off, h);
    }
  }

  // block mixes the 64 bytes of buf at off into the state h.
  function block(buf, off, h) {
    var w = W, i, x, y, t1, t2;
    for (i = 0; i < 16; i++, off += 4) {
      w[i] = buf[off] << 24 | buf[off + 1] << 16 | buf[off + 2] << 8 | buf[off + 3];
    }
    for (i = 16; i < 64; i++) {
      x = w[i - 15];
      y = w[i - 2];
      w[i] = w[i - 16] + ((x >>> 7 | x << 25) ^ (x >>> 18 | x << 14) ^ x >>> 3) +
        w[i - 7] + ((y >>> 17 | y << 15) ^ (y >>> 19 | y << 13) ^ y >>> 10) | 0;
    }
    var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (i = 0; i < 64; i++) {
      t1 = k + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7)) +
        (e & f ^ ~e & g) + K[i] + w[i] | 0;
      t2 = ((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) +
        (a & b ^ a & c ^ b & c) | 0;
      k = g; g = f; f = e; e = d + t1 | 0;
      d = c; c = b; b = a; a = t1 + t2 | 0;
    }
    h[0] = h[0] + a | 0; h[1] = h[1] + b | 0; h[2] = h[2] + c | 0; h[3] = h[3] + d | 0;
    h[4] = h[4] + e | 0; h[5] = h[5] + f | 0; h[6] = h[6] + g | 0; h[7] = h[7] + k | 0;
  }

  // leadingZeroBits is the number of zero bits that the digest h begins with.
  function leadingZeroBits(h) {
    for (var i = 0; i < 8; i++) {
      if (h[i] !== 0) {
        return i * 32 + Math.clz32(h[i]);
      }
    }
    return 256;
  }

  // sha256Hex returns the SHA-256 of text (as UTF-8) in hexadecimal.
  function sha256Hex(text) {
    var bytes = new TextEncoder().encode(text);
    var buf = new Uint8Array(paddedLength(bytes.length));
    buf.set(bytes);
    var h = new Int32Array(8);
    sha256(buf, bytes.length, h);
    var hex = "";
    for (var i = 0; i < 8; i++) {
      hex += (h[i] >>> 0).toString(16).padStart(8, "0");
    }
    return hex;
  }

  var CHUNK_MS = 50;       // work between yields to the event loop
  var CLOCK_EVERY = 1024;  // hashes between looks at the clock
  var MAX_DIGITS = 16;     // nonces up to 2^53 have at most 16 digits

  // solveChallenge finds the first nonce, in the order "0", "1", "2", …,
  // that solves challenge to difficulty (0 to 256 bits). options.onProgress,
  // if given, is called after each chunk and once at the end with
  // {hashes, elapsedMs, hashesPerSecond, difficulty}. options.signal, an
  // AbortSignal, stops the search: the promise then rejects with its reason.
  async function solveChallenge(challenge, difficulty, options) {
    options = options || {};
    if (typeof challenge !== "string" || challenge === "") {
      throw new TypeError("QueuePass.solveChallenge: the challenge must be a non-empty string");
    }
    if (!Number.isInteger(difficulty) || difficulty < 0 || difficulty > 256) {
      throw new RangeError("QueuePass.solveChallenge: the difficulty must be a whole number of bits from 0 to 256");
    }
    var signal = options.signal, onProgress = options.onProgress;
    var prefix = new TextEncoder().encode(challenge);
    var buf = new Uint8Array(paddedLength(prefix.length + MAX_DIGITS));
    buf.set(prefix);
    var h = new Int32Array(8);
    var start = performance.now(), hashes = 0;
    var report = function () {
      if (onProgress) {
        var ms = performance.now() - start;
        onProgress({hashes: hashes, elapsedMs: ms, hashesPerSecond: ms > 0 ? hashes * 1000 / ms : 0, difficulty: difficulty});
      }
    };
    for (;;) {
      throwIfAborted(signal);
      var chunkEnd = performance.now() + CHUNK_MS;
      do {
        for (var i = 0; i < CLOCK_EVERY; i++) {
          var nonce = String(hashes), n = prefix.length;
          for (var j = 0; j < nonce.length; j++) {
            buf[n++] = nonce.charCodeAt(j);
          }
          sha256(buf, n, h);
          hashes++;
          if (leadingZeroBits(h) >= difficulty) {
            report();
            return nonce;
          }
        }
      } while (performance.now() < chunkEnd);
      report();
      await nextTask();
    }
  }

  // nextTask resolves in a new task of the event loop, after the page had
  // its turn. A MessageChannel message is not clamped to 4 ms like a nested
  // setTimeout, nor throttled like timers of a hidden tab.
  function nextTask() {
    return new Promise(function (resolve) {
      if (typeof MessageChannel !== "function") {
        setTimeout(resolve, 0);
        return;
      }
      var ch = new MessageChannel();
      ch.port1.onmessage = function () {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }

  function throwIfAborted(signal) {
    if (signal && signal.aborted) {
      throw signal.reason !== undefined ? signal.reason : new DOMException("The solve was aborted.", "AbortError");
    }
  }

  // ProblemError is what join rejects with when the API answers with an
  // error: status is the HTTP status, problem the application/problem+json
  // body (code says what went wrong: challenge_required, challenge_failed,
  // event_closed, rate_limited, …), retryAfter the Retry-After header in
  // seconds, or null.
  class ProblemError extends Error {
    constructor(status, problem, retryAfter) {
      super((problem && (problem.detail || problem.title)) || "HTTP " + status);
      this.name = "ProblemError";
      this.status = status;
      this.problem = problem;
      this.retryAfter = retryAfter;
    }
  }

  // post sends body (null: none) as JSON and returns {status, body}, or
  // rejects with a ProblemError for an answer that is not 2xx.
  async function post(url, body, signal) {
    var init = {method: "POST", headers: {Accept: "application/json"}, signal: signal};
    if (body !== null) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    var res = await fetch(url, init);
    var text = await res.text(), data;
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = text;
    }
    if (!res.ok) {
      var after = res.headers.get("Retry-After");
      throw new ProblemError(res.status, data, after === null ? null : Number(after));
    }
    return {status: res.status, body: data};
  }

  // join gets a challenge for the event, solves it and joins the user with
  // it: a 201 makes a ticket, a 200 is the user's live ticket, which a
  // re-join returns (a page that keeps its ticket id should read the ticket
  // instead, and spend no work). It resolves with {status, ticket, nonce}.
  // It rejects with a ProblemError for an error answer, a TypeError when the
  // network fails, or the signal's reason once options.signal aborts.
  //
  // options: accessCode (for events with access "code"); baseURL, the
  // QueuePass server ("": this page's origin; another origin needs the
  // server's CORS origins to list the page's); onChallenge, called with the
  // challenge ({challenge, difficulty, expires_at}) before the solve;
  // onProgress, as for solveChallenge; signal, an AbortSignal.
  async function join(eventId, userId, options) {
    options = options || {};
    var events = (options.baseURL || "").replace(/\/+$/, "") + "/v1/events/" + encodeURIComponent(eventId);
    var c = (await post(events + "/challenges", null, options.signal)).body;
    if (options.onChallenge) {
      options.onChallenge(c);
    }
    var nonce = await solveChallenge(c.challenge, c.difficulty, options);
    var body = {user_id: userId, challenge: c.challenge, nonce: nonce};
    if (options.accessCode) {
      body.access_code = options.accessCode;
    }
    var t = await post(events + "/tickets", body, options.signal);
    return {status: t.status, ticket: t.body, nonce: nonce};
  }

  var api = root.QueuePass || (root.QueuePass = {});
  api.solveChallenge = solveChallenge;
  api.join = join;
  api.sha256Hex = sha256Hex;
  api.ProblemError = ProblemError;
})(globalThis);
