// The page /docs/challenge: joins an event with QueuePass.join from
// queuepass-pow.js and shows the work as it goes and what the API answered.
// ?event=ID fills in the event id.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var form = $("join-form"), joinButton = $("join"), cancelButton = $("cancel");
  var status = $("status"), result = $("result");
  var controller = null;

  var event = new URLSearchParams(location.search).get("event");
  if (event) {
    $("event-id").value = event;
  }

  // show sets the outcome: state is "working", "ok" or "problem"; the test
  // of this page waits for data-state to be "ok" or "problem".
  function show(state, text, body) {
    status.textContent = text;
    status.className = "qp-" + state;
    result.dataset.state = state;
    result.textContent = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body, null, 2);
  }

  function progress(p) {
    $("hashes").textContent = p.hashes.toLocaleString("en");
    $("rate").textContent = Math.round(p.hashesPerSecond).toLocaleString("en");
    $("elapsed").textContent = (p.elapsedMs / 1000).toFixed(2) + " s";
  }

  form.addEventListener("submit", async function (e) {
    e.preventDefault();
    controller = new AbortController();
    joinButton.disabled = true;
    cancelButton.disabled = false;
    ["difficulty", "hashes", "rate", "elapsed", "nonce"].forEach(function (id) { $(id).textContent = "–"; });
    show("working", "Getting a challenge…");
    try {
      var joined = await QueuePass.join($("event-id").value.trim(), $("user-id").value, {
        accessCode: $("access-code").value.trim(),
        signal: controller.signal,
        onProgress: progress,
        onChallenge: function (c) {
          $("difficulty").textContent = c.difficulty + " bits (about " + Math.pow(2, c.difficulty).toLocaleString("en") + " hashes)";
          show("working", "Solving the challenge…");
        }
      });
      $("nonce").textContent = joined.nonce;
      show("ok", joined.status + (joined.status === 201 ? " Created: a new ticket." : " OK: the user's live ticket."), joined.ticket);
    } catch (err) {
      if (err instanceof QueuePass.ProblemError) {
        show("problem", err.status + " " + ((err.problem && err.problem.code) || "") + ": " + err.message, err.problem);
      } else if (err.name === "AbortError") {
        show("problem", "Cancelled.");
      } else {
        show("problem", "The request failed: " + err.message);
      }
    } finally {
      joinButton.disabled = false;
      cancelButton.disabled = true;
      controller = null;
    }
  });

  cancelButton.addEventListener("click", function () {
    if (controller) {
      controller.abort();
    }
  });
})();
