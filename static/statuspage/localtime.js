/* Keel status page: show <time datetime> in the reader's time zone. Optional: the page reads fine without it. */
(function () {
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  } catch (e) {
    return;
  }
  var nodes = document.querySelectorAll("time[data-local]");
  for (var i = 0; i < nodes.length; i++) {
    var when = new Date(nodes[i].getAttribute("datetime"));
    if (!isNaN(when)) {
      nodes[i].title = nodes[i].textContent;
      nodes[i].textContent = fmt.format(when);
    }
  }
})();
