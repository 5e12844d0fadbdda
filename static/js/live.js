// Live pages (incidents.live): refresh a fragment when the server says it changed.
// Progressive enhancement only: without this file the pages are as rendered.
//
// A feed element ([data-live]) names its fragment (data-live-target, which carries
// data-live-version), where to poll (data-live-state: {"version", "here"} with
// ETag/304) and, with Redis, an event stream (data-live-stream). With a stream open,
// nothing polls; when it fails (refused at the server's cap, Redis down, a proxy that
// buffers), the page polls every data-live-poll seconds and tries the stream again
// later. A fragment the user is typing in or has focus in is left alone; the others
// are swapped.
(function () {
  "use strict";

  var STREAM_RETRY_MS = 60000; // after a stream failed, poll this long before retrying
  var FAILURES_BEFORE_POLLING = 2;
  var PARTS = "section[aria-labelledby], header, form[id], [id]";

  function isDirty(root) {
    var fields = root.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.readOnly || field.type === "hidden") {
        continue;
      }
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) {
          return true;
        }
      } else if (field.tagName === "SELECT") {
        for (var j = 0; j < field.options.length; j++) {
          if (field.options[j].selected !== field.options[j].defaultSelected) {
            return true;
          }
        }
      } else if (field.value !== field.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function isBusy(element) {
    var active = document.activeElement;
    var focused = active && active !== document.body && element.contains(active) &&
      active.matches("input, textarea, select");
    return Boolean(focused) || isDirty(element);
  }

  // A part of a fragment is known by its id, its heading (aria-labelledby) or its class.
  function keyOf(element) {
    if (element.id) {
      return "#" + element.id;
    }
    var labelled = element.getAttribute("aria-labelledby");
    if (labelled) {
      return "[aria-labelledby='" + labelled + "']";
    }
    return element.className ? "." + element.className.trim().split(/\s+/).join(".") : "";
  }

  // A disclosure is known by its id, else by its summary and how many with the same
  // summary come before it (one "Edit" open among a list of them stays the one open).
  function detailsKeys(element) {
    var seen = {};
    return Array.prototype.map.call(element.querySelectorAll("details"), function (details) {
      if (details.id) {
        return { details: details, key: "#" + details.id };
      }
      var summary = details.querySelector(":scope > summary");
      var text = summary ? summary.textContent.trim() : "";
      seen[text] = (seen[text] || 0) + 1;
      return { details: details, key: text + "\u0000" + seen[text] };
    });
  }

  function replace(current, fresh) {
    var open = {};
    detailsKeys(current).forEach(function (entry) {
      if (entry.details.open) {
        open[entry.key] = true;
      }
    });
    current.replaceWith(fresh);
    detailsKeys(fresh).forEach(function (entry) {
      if (open[entry.key]) {
        entry.details.open = true;
      }
    });
    if (window.htmx) {
      window.htmx.process(fresh);
    }
    fresh.dispatchEvent(new CustomEvent("keel:live-swapped", { bubbles: true }));
  }

  // The parts of ``root`` that are not inside another part of it.
  function topParts(root) {
    return Array.prototype.filter.call(root.querySelectorAll(PARTS), function (part) {
      var outer = part.parentElement && part.parentElement.closest(PARTS);
      return !outer || outer === root || !root.contains(outer);
    });
  }

  // Swap the element, or, while the user works in it, each of its parts they are
  // not working in (cards, then the forms inside a card); the busy ones wait for the
  // next change (or for the user's own submit, which answers with a fresh copy).
  function swapPart(current, fresh) {
    if (!isBusy(current)) {
      replace(current, fresh);
      return;
    }
    if (current.tagName === "FORM" || current.matches("input, textarea, select")) {
      return; // a form being filled in stays whole
    }
    topParts(fresh).forEach(function (part) {
      var key = keyOf(part);
      var old = key && current.querySelector(key);
      if (old && old !== current) {
        swapPart(old, part.cloneNode(true));
      }
    });
  }

  function swap(current, fresh) {
    var version = fresh.getAttribute("data-live-version") || "";
    swapPart(current, fresh);
    var now = document.querySelector("[data-live-version]#" + (current.id || fresh.id));
    if (now) {
      now.setAttribute("data-live-version", version);
    }
  }

  // A list that loads more on demand (the timeline's "Show older") names a parameter
  // (data-live-count); a fresh copy is asked for with as many items as it holds now.
  function counts(fragment) {
    var found = {};
    if (fragment) {
      fragment.querySelectorAll("[data-live-count]").forEach(function (list) {
        found[list.getAttribute("data-live-count")] =
          list.querySelectorAll("[data-live-item]").length;
      });
    }
    return found;
  }

  function withCounts(href, fragment) {
    var url = new URL(href, window.location.href);
    var found = counts(fragment);
    Object.keys(found).forEach(function (name) {
      url.searchParams.set(name, String(found[name]));
    });
    return url.toString();
  }

  function Feed(element) {
    this.element = element;
    this.target = element.getAttribute("data-live-target");
    this.stateUrl = element.getAttribute("data-live-state");
    this.streamUrl = element.getAttribute("data-live-stream");
    this.sourceUrl = element.getAttribute("data-live-source");
    this.pollMs = (parseInt(element.getAttribute("data-live-poll"), 10) || 10) * 1000;
    this.etag = null;
    this.lastVersion = null;
    this.fetching = null;
    this.again = null;
    this.source = null;
    this.failures = 0;
    this.pollTimer = null;
  }

  Feed.prototype.fragment = function () {
    return document.querySelector(this.target);
  };

  Feed.prototype.version = function () {
    var fragment = this.fragment();
    return fragment ? fragment.getAttribute("data-live-version") : null;
  };

  Feed.prototype.mode = function (mode) {
    this.element.setAttribute("data-live-mode", mode);
  };

  Feed.prototype.showPresence = function (here) {
    var line = this.element.querySelector("[data-live-presence]");
    if (!line || !Array.isArray(here)) {
      return;
    }
    line.querySelector("[data-live-here]").textContent = here.join(", ");
    line.hidden = here.length === 0;
  };

  // Fetch the fragment again (one request at a time; a change meanwhile asks again).
  Feed.prototype.refresh = function (version) {
    var feed = this;
    if (!version || version === feed.version()) {
      return;
    }
    // One fetch at a time; and while the user's own HTMX action is on its way, wait
    // for its answer (it carries the new version, usually the one announced).
    if (feed.fetching) {
      feed.again = version;
      return;
    }
    if (Date.now() < htmxBusyUntil) {
      feed.again = version;
      window.setTimeout(flushWaiting, HTMX_WAIT_MS); // in case no answer ever comes
      return;
    }
    var url = withCounts(feed.sourceUrl || window.location.href, feed.fragment());
    var headers = feed.sourceUrl ? { "HX-Request": "true" } : {};
    feed.fetching = fetch(url, { headers: headers, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var parsed = new DOMParser().parseFromString(html, "text/html");
        var fresh = parsed.querySelector(feed.target);
        var current = feed.fragment();
        if (fresh && current) {
          swap(current, document.importNode(fresh, true));
        }
      })
      .catch(function () {
        // The next event or poll tries again.
      })
      .then(function () {
        feed.fetching = null;
        if (feed.again) {
          var next = feed.again;
          feed.again = null;
          feed.refresh(next);
        }
      });
  };

  Feed.prototype.poll = function () {
    var feed = this;
    var headers = feed.etag ? { "If-None-Match": feed.etag } : {};
    return fetch(feed.stateUrl, { headers: headers, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 304) {
          // Unchanged since the last answer; if fetching that version failed, retry.
          feed.refresh(feed.lastVersion);
          return;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        feed.etag = response.headers.get("ETag");
        return response.json().then(function (state) {
          feed.lastVersion = state.version;
          feed.showPresence(state.here);
          feed.refresh(state.version);
        });
      })
      .catch(function () {});
  };

  Feed.prototype.startPolling = function () {
    var feed = this;
    if (feed.pollTimer) {
      return;
    }
    feed.mode("poll");
    feed.poll();
    feed.pollTimer = window.setInterval(function () {
      if (!document.hidden) {
        feed.poll();
      }
    }, feed.pollMs);
  };

  Feed.prototype.stopPolling = function () {
    window.clearInterval(this.pollTimer);
    this.pollTimer = null;
  };

  Feed.prototype.openStream = function () {
    var feed = this;
    if (!feed.streamUrl || !window.EventSource) {
      feed.startPolling();
      return;
    }
    var source = new EventSource(feed.streamUrl);
    feed.source = source;
    var data = function (event) {
      try {
        return JSON.parse(event.data);
      } catch (error) {
        return {};
      }
    };
    source.addEventListener("hello", function (event) {
      var state = data(event);
      feed.failures = 0;
      feed.stopPolling();
      feed.mode("stream");
      feed.showPresence(state.here);
      feed.refresh(state.version);
    });
    source.addEventListener("changed", function (event) {
      feed.refresh(data(event).version);
    });
    source.addEventListener("presence", function (event) {
      feed.showPresence(data(event).here);
    });
    source.addEventListener("gone", function () {
      source.close();
      window.location.reload();
    });
    // "bye": the stream's lifetime is over; EventSource reconnects by itself with
    // Last-Event-ID, and the server says "changed" if anything was missed.
    source.onerror = function () {
      feed.failures += 1;
      // Refused (503 at the cap) closes the source; repeated drops mean the stream
      // does not work from here: poll, and try the stream again later.
      if (source.readyState === EventSource.CLOSED || feed.failures >= FAILURES_BEFORE_POLLING) {
        source.close();
        feed.source = null;
        feed.startPolling();
        window.setTimeout(function () {
          feed.failures = 0;
          feed.openStream();
        }, STREAM_RETRY_MS);
      }
    };
  };

  var HTMX_WAIT_MS = 10000;
  var htmxBusyUntil = 0;
  var feeds = [];

  function flushWaiting() {
    feeds.forEach(function (feed) {
      if (feed.again && !feed.fetching) {
        var next = feed.again;
        feed.again = null;
        feed.refresh(next);
      }
    });
  }

  function start() {
    document.querySelectorAll("[data-live]").forEach(function (element) {
      var feed = new Feed(element);
      feeds.push(feed);
      feed.openStream();
    });
  }

  // An action that answers with the whole fragment keeps as many items shown too.
  document.addEventListener("htmx:configRequest", function (event) {
    var target = event.detail.target;
    if (!target || !target.matches("[data-live-version]")) {
      return;
    }
    var found = counts(target);
    Object.keys(found).forEach(function (name) {
      event.detail.parameters[name] = String(found[name]);
    });
  });
  document.addEventListener("htmx:beforeRequest", function () {
    htmxBusyUntil = Date.now() + HTMX_WAIT_MS;
  });
  document.addEventListener("htmx:afterRequest", function () {
    // Once its answer is swapped in (next task), compare with the version it brought.
    window.setTimeout(function () {
      htmxBusyUntil = 0;
      flushWaiting();
    }, 0);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
