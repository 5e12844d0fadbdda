// Typeahead pickers: progressive enhancement of <select data-typeahead="single|multiple">
// (common/widgets.py). The select stays in the form as the real field, hidden; this
// script puts an ARIA combobox in front of it (WAI-ARIA 1.2 "combobox with listbox
// popup"): type to search, Up/Down to move, Enter to pick, Backspace on an empty box
// removes the last chip, Escape closes the list (a second Escape clears the text).
// With data-typeahead-source it asks the JSON search (at most 20 results); without one
// it filters the select's own options. Only options of the select are offered: the
// server's form stays the judge of what is valid.
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;
  var MAX_SHOWN = 20;
  var counter = 0;

  function fold(text) {
    return (text || "").toLocaleLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }

  function localMatches(select, query) {
    var words = fold(query).split(/\s+/).filter(Boolean);
    var found = [];
    Array.prototype.forEach.call(select.options, function (option) {
      if (!option.value || found.length >= MAX_SHOWN) {
        return;
      }
      var text = fold(option.text + " " + option.value);
      if (words.every(function (word) { return text.indexOf(word) !== -1; })) {
        found.push({ value: option.value, label: option.text, detail: "" });
      }
    });
    return found;
  }

  function Picker(select) {
    this.select = select;
    this.multiple = select.getAttribute("data-typeahead") === "multiple";
    this.source = select.getAttribute("data-typeahead-source");
    this.key = select.getAttribute("data-typeahead-key") || "id";
    this.cache = {};
    this.results = [];
    this.active = -1;
    this.timer = null;
    this.request = null;
    this.build();
  }

  Picker.prototype.build = function () {
    var select = this.select;
    var id = select.id || "typeahead-" + (++counter);
    var wrapper = document.createElement("div");
    wrapper.className = "typeahead";
    this.chips = document.createElement("ul");
    this.chips.className = "typeahead-chips";
    this.chips.setAttribute("aria-label", "Chosen");
    this.input = document.createElement("input");
    this.input.type = "text";
    this.input.id = id + "_search";
    this.input.className = "typeahead-input";
    this.input.autocomplete = "off";
    this.input.spellcheck = false;
    this.input.setAttribute("role", "combobox");
    this.input.setAttribute("aria-autocomplete", "list");
    this.input.setAttribute("aria-expanded", "false");
    this.input.setAttribute("aria-controls", id + "_listbox");
    this.input.placeholder = this.multiple ? "Type to add…" : "Type to search…";
    var described = select.getAttribute("aria-describedby");
    if (described) {
      this.input.setAttribute("aria-describedby", described);
    }
    if (select.getAttribute("aria-invalid")) {
      this.input.setAttribute("aria-invalid", select.getAttribute("aria-invalid"));
    }
    this.listbox = document.createElement("ul");
    this.listbox.id = id + "_listbox";
    this.listbox.className = "typeahead-listbox";
    this.listbox.setAttribute("role", "listbox");
    this.listbox.hidden = true;
    this.status = document.createElement("p");
    this.status.className = "visually-hidden";
    this.status.setAttribute("role", "status");
    var label = document.querySelector('label[for="' + id + '"]');
    if (label) {
      label.htmlFor = this.input.id;
      label.id = label.id || id + "_label";
      this.listbox.setAttribute("aria-labelledby", label.id);
      this.chips.setAttribute("aria-label", label.textContent.trim() + ": chosen");
    }
    var row = document.createElement("div");
    row.className = "typeahead-box";
    row.appendChild(this.chips);
    row.appendChild(this.input);
    wrapper.appendChild(row);
    wrapper.appendChild(this.listbox);
    wrapper.appendChild(this.status);
    select.parentNode.insertBefore(wrapper, select);
    // The select stays the form's field, out of sight and out of the tab order but not
    // display:none, so whatever drives it directly (a test, an extension) still can;
    // inside the positioned wrapper, so it can never widen the page.
    wrapper.appendChild(select);
    select.tabIndex = -1;
    select.setAttribute("aria-hidden", "true");
    select.classList.add("typeahead-native", "visually-hidden");
    this.wrapper = wrapper;
    this.renderChips();
    this.bind();
  };

  Picker.prototype.bind = function () {
    var self = this;
    this.input.addEventListener("input", function () { self.schedule(); });
    this.input.addEventListener("focus", function () { self.schedule(); });
    this.input.addEventListener("keydown", function (event) { self.onKey(event); });
    this.input.addEventListener("blur", function () {
      // A click on an option arrives after blur: let it land first.
      window.setTimeout(function () { self.close(); }, 150);
    });
    row(this.wrapper).addEventListener("click", function (event) {
      if (event.target === this) {
        self.input.focus();
      }
    });
    this.listbox.addEventListener("mousedown", function (event) {
      event.preventDefault(); // keep the focus in the box
      var option = event.target.closest("[role=option]");
      if (option) {
        self.pick(Number(option.getAttribute("data-index")));
      }
    });
    this.select.addEventListener("change", function () { self.renderChips(); });
    this.chips.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-value]");
      if (button) {
        self.unpick(button.getAttribute("data-value"));
        self.input.focus();
      }
    });
  };

  function row(wrapper) {
    return wrapper.querySelector(".typeahead-box");
  }

  Picker.prototype.chosen = function () {
    return Array.prototype.filter.call(this.select.options, function (option) {
      return option.selected && option.value;
    });
  };

  Picker.prototype.renderChips = function () {
    var self = this;
    this.chips.textContent = "";
    this.chosen().forEach(function (option) {
      var chip = document.createElement("li");
      chip.className = "typeahead-chip";
      var text = document.createElement("span");
      text.textContent = option.text;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "typeahead-remove";
      remove.setAttribute("data-value", option.value);
      remove.setAttribute("aria-label", "Remove " + option.text);
      remove.textContent = "×";
      chip.appendChild(text);
      chip.appendChild(remove);
      self.chips.appendChild(chip);
    });
    this.chips.hidden = !this.chips.children.length;
  };

  Picker.prototype.schedule = function () {
    var self = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () { self.search(self.input.value.trim()); }, DEBOUNCE_MS);
  };

  Picker.prototype.search = function (query) {
    var self = this;
    if (!this.source) {
      this.show(localMatches(this.select, query));
      return;
    }
    if (this.cache[query]) {
      this.show(this.cache[query]);
      return;
    }
    if (this.request) {
      this.request.abort();
    }
    var controller = new AbortController();
    this.request = controller;
    var url = this.source + (this.source.indexOf("?") === -1 ? "?" : "&") + "q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: controller.signal })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("search answered " + response.status);
        }
        return response.json();
      })
      .then(function (body) {
        var allowed = {};
        Array.prototype.forEach.call(self.select.options, function (option) { allowed[option.value] = option; });
        var found = body.results
          .map(function (result) {
            return { value: String(result[self.key]), label: result.label, detail: result.detail };
          })
          .filter(function (result) { return allowed[result.value]; });
        self.cache[query] = found;
        if (self.input.value.trim() === query) {
          self.show(found);
        }
      })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          // The search is unreachable or refused: the select's own options still serve.
          self.show(localMatches(self.select, query));
        }
      });
  };

  Picker.prototype.show = function (results) {
    var self = this;
    var chosen = {};
    this.chosen().forEach(function (option) { chosen[option.value] = true; });
    this.results = results.filter(function (result) { return !chosen[result.value]; });
    this.listbox.textContent = "";
    this.results.forEach(function (result, index) {
      var item = document.createElement("li");
      item.id = self.listbox.id + "_" + index;
      item.className = "typeahead-option";
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.setAttribute("data-index", String(index));
      item.textContent = result.label;
      if (result.detail) {
        var detail = document.createElement("span");
        detail.className = "typeahead-detail";
        detail.textContent = " · " + result.detail;
        item.appendChild(detail);
      }
      self.listbox.appendChild(item);
    });
    if (!this.results.length) {
      var empty = document.createElement("li");
      empty.className = "typeahead-empty";
      empty.textContent = this.input.value.trim() ? "No match" : "Nothing left to pick";
      this.listbox.appendChild(empty);
    }
    this.status.textContent = this.results.length + " result" + (this.results.length === 1 ? "" : "s");
    this.listbox.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.move(this.results.length ? 0 : -1);
  };

  Picker.prototype.close = function () {
    // A search still on its way would open the list again once it answers.
    window.clearTimeout(this.timer);
    if (this.request) {
      this.request.abort();
      this.request = null;
    }
    this.listbox.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.active = -1;
  };

  Picker.prototype.move = function (index) {
    var items = this.listbox.querySelectorAll("[role=option]");
    if (!items.length) {
      this.active = -1;
      this.input.removeAttribute("aria-activedescendant");
      return;
    }
    this.active = (index + items.length) % items.length;
    Array.prototype.forEach.call(items, function (item, position) {
      item.setAttribute("aria-selected", String(position === this.active));
    }, this);
    var current = items[this.active];
    this.input.setAttribute("aria-activedescendant", current.id);
    current.scrollIntoView({ block: "nearest" });
  };

  Picker.prototype.pick = function (index) {
    var result = this.results[index];
    if (!result) {
      return;
    }
    Array.prototype.forEach.call(this.select.options, function (option) {
      if (option.value === result.value) {
        option.selected = true;
      } else if (!this.multiple) {
        option.selected = false;
      }
    }, this);
    this.changed();
    this.input.value = "";
    this.status.textContent = result.label + " chosen";
    if (this.multiple) {
      this.search("");
    } else {
      this.close();
    }
  };

  Picker.prototype.unpick = function (value) {
    Array.prototype.forEach.call(this.select.options, function (option) {
      if (option.value === value) {
        option.selected = false;
      }
    });
    if (!this.multiple) {
      var empty = Array.prototype.find.call(this.select.options, function (option) { return !option.value; });
      if (empty) {
        empty.selected = true;
      }
    }
    this.changed();
    this.status.textContent = "Removed";
  };

  Picker.prototype.changed = function () {
    // The select's change listener redraws the chips (and the page's own listeners run).
    this.select.dispatchEvent(new Event("change", { bubbles: true }));
  };

  Picker.prototype.onKey = function (event) {
    var open = !this.listbox.hidden;
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp":
        event.preventDefault();
        if (!open) {
          this.search(this.input.value.trim());
        } else {
          this.move(this.active + (event.key === "ArrowDown" ? 1 : -1));
        }
        break;
      case "Enter":
        // Enter picks; it submits the form only from an empty, closed box.
        if (open && this.active >= 0) {
          event.preventDefault();
          this.pick(this.active);
        } else if (this.input.value.trim()) {
          event.preventDefault();
        }
        break;
      case "Escape":
        if (open) {
          event.preventDefault();
          event.stopPropagation();
          this.close();
        } else if (this.input.value) {
          event.preventDefault();
          this.input.value = "";
        }
        break;
      case "Backspace":
        if (!this.input.value) {
          var chosen = this.chosen();
          if (chosen.length) {
            event.preventDefault();
            this.unpick(chosen[chosen.length - 1].value);
          }
        }
        break;
      case "Tab":
        this.close();
        break;
    }
  };

  // Free-text people fields (the postmortem's action item owners, accepted by name or
  // username): their <datalist data-people-source> is filled from the people search as
  // one types, so no page embeds every user; the browser's own datalist UI does the rest.
  var suggestTimer = null;
  function suggestPeople(input) {
    var list = input.list;
    var source = list && list.getAttribute("data-people-source");
    if (!source) {
      return;
    }
    window.clearTimeout(suggestTimer);
    suggestTimer = window.setTimeout(function () {
      var query = input.value.trim();
      if (list.getAttribute("data-query") === query) {
        return;
      }
      fetch(source + "?q=" + encodeURIComponent(query), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (body) {
          list.textContent = "";
          body.results.forEach(function (result) {
            var option = document.createElement("option");
            option.value = result.key;
            option.textContent = result.label;
            list.appendChild(option);
          });
          list.setAttribute("data-query", query);
        })
        .catch(function () { /* no suggestions: the field still takes a name or username */ });
    }, DEBOUNCE_MS);
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("input[list]")) {
      suggestPeople(event.target);
    }
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[list]")) {
      suggestPeople(event.target);
    }
  });

  function enhance(root) {
    (root || document).querySelectorAll("select[data-typeahead]:not(.typeahead-native)").forEach(function (select) {
      new Picker(select);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  // Forms swapped in by HTMX (the roles card after an assignment) or by the live pages
  // (static/js/live.js, when another responder changed the incident) get their pickers too.
  document.addEventListener("htmx:load", function (event) { enhance(event.target); });
  document.addEventListener("keel:live-swapped", function (event) { enhance(event.target); });
})();
