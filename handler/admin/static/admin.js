// Asks before forms marked data-confirm are sent (approve, unbind, retry all).
document.addEventListener("submit", function (ev) {
  var msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    ev.preventDefault();
  }
});

// The job page (#job): while the job is queued or running, read its state from the JSON endpoint
// every second and move the progress bar; once it has ended, load the page again, which shows
// the result. A finished export starts its download once, on the load that followed the end.
(function () {
  var box = document.getElementById("job");
  if (!box) {
    return;
  }
  var live = function (s) { return s === "queued" || s === "running"; };
  var $ = function (id) { return document.getElementById(id); };
  if (window.location.search) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  if (!live(box.getAttribute("data-status"))) {
    var dl = document.querySelector("a[data-autodownload]");
    if (dl) {
      dl.click();
    }
    return;
  }
  var api = box.getAttribute("data-api");
  var failures = 0;
  function show(j) {
    var bar = $("job-bar");
    if (j.percent === null || j.percent === undefined) {
      bar.removeAttribute("value"); // indeterminate: the total is not known yet
      $("job-percent").textContent = "";
    } else {
      bar.value = j.percent;
      bar.textContent = j.percent + "%";
      $("job-percent").textContent = j.percent + "%";
    }
    $("job-status").textContent = j.status_label;
    $("job-status").className = "tag status-" + j.status;
    $("job-stage").textContent = j.stage;
    $("job-progress").textContent = j.progress;
    box.setAttribute("data-status", j.status);
  }
  function tick() {
    fetch(api, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) {
          throw new Error("HTTP " + r.status);
        }
        return r.json();
      })
      .then(function (j) {
        failures = 0;
        show(j);
        if (live(j.status)) {
          window.setTimeout(tick, 1000);
        } else {
          window.location.replace(window.location.pathname + "?done=1");
        }
      })
      .catch(function () {
        failures++;
        $("job-progress").textContent = "暂时连不上服务器，正在重试…";
        window.setTimeout(tick, Math.min(1000 * (failures + 1), 10000));
      });
  }
  window.setTimeout(tick, 1000);
})();
