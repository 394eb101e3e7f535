/* The blast-radius graph: cytoscape.js over the elements the server shaped (#reach-data).
 *
 * No inline script (the CSP forbids it): this file reads the page's JSON data block, draws it,
 * and on a tap highlights the path(s) the tapped node carries (edge ids in its data "path").
 * window.rebacReach exposes the graph and the last timings (the browser tests and
 * scripts/bench_console.py read them).
 */
(function () {
  "use strict";

  var STYLE = [
    { selector: "node", style: {
      "label": "data(label)", "font-size": 9, "color": "#1d2330", "text-valign": "bottom", "text-margin-y": 3,
      "text-wrap": "ellipsis", "text-max-width": 160, "width": 16, "height": 16,
      "background-color": "#c3cad8", "border-width": 1, "border-color": "#8a94a8" } },
    { selector: "node.origin", style: {
      "shape": "round-rectangle", "width": 30, "height": 22, "background-color": "#1d2330", "font-weight": "bold" } },
    { selector: "node.state-effective", style: { "background-color": "#1f7a3d", "border-color": "#1f7a3d" } },
    { selector: "node.state-raw", style: { "background-color": "#5b6475", "border-color": "#5b6475" } },
    { selector: "node.state-conditional", style: { "background-color": "#e0a500", "border-color": "#9a6700" } },
    { selector: "node.state-capped", style: {
      "background-color": "#ffffff", "border-color": "#b3261e", "border-width": 3, "border-style": "dashed" } },
    { selector: "node.aggregate", style: { "shape": "round-hexagon", "width": 30, "height": 30, "font-size": 10 } },
    { selector: "edge", style: {
      "width": 1.5, "line-color": "#b8c0d0", "target-arrow-color": "#b8c0d0", "target-arrow-shape": "triangle",
      "curve-style": "bezier", "arrow-scale": 0.8, "label": "data(label)", "font-size": 8, "color": "#5b6475" } },
    { selector: "edge.kind-unknown", style: { "line-style": "dashed" } },
    { selector: ".faded", style: { "opacity": 0.18 } },
    { selector: "node.highlighted", style: { "border-color": "#2f5bd3", "border-width": 4, "opacity": 1 } },
    { selector: "edge.highlighted", style: {
      "line-color": "#2f5bd3", "target-arrow-color": "#2f5bd3", "width": 4, "opacity": 1, "z-index": 10 } }
  ];

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }

  function describe(panel, node, path, reverse, aggregated) {
    panel.replaceChildren();
    var head = text("p", "");
    head.appendChild(text("strong", node.data("label")));
    if (node.data("count") > 1) { head.appendChild(text("span", " stands for " + node.data("count") + " nodes", "hint")); }
    panel.appendChild(head);
    if (path.length === 0) {
      panel.appendChild(text("p", node.hasClass("origin") ? "The starting point." : "No path recorded.", "hint"));
      return;
    }
    var list = document.createElement("ol");
    list.className = "steps";
    path.forEach(function (edge) {
      var item = text("li", edge.data("source") + " \u2192 " + edge.data("target"));
      var detail = edge.data("kind") + (edge.data("detail") ? ": " + edge.data("detail") : "");
      if (aggregated && edge.data("count") > 1) { detail += " (" + edge.data("count") + " steps)"; }
      item.appendChild(text("span", "  " + detail, "hint"));
      list.appendChild(item);
    });
    panel.appendChild(list);
    var id = node.id();
    if (!reverse && !aggregated && node.hasClass("reached")) {
      var cut = id.lastIndexOf("#");
      var link = text("a", "Who can reach " + id.slice(0, cut) + "?");
      link.href = "/console/blast-radius?resource=" + encodeURIComponent(id.slice(0, cut)) +
        "&permission=" + encodeURIComponent(id.slice(cut + 1));
      link.className = "who-can-reach";
      panel.appendChild(link);
    }
  }

  function start() {
    var box = document.getElementById("reach-graph");
    var data = document.getElementById("reach-data");
    if (!box || !data || typeof window.cytoscape !== "function") { return; }
    var reverse = box.dataset.reverse === "1";
    var aggregated = box.dataset.aggregated === "1";
    var panel = document.getElementById("reach-selected");
    var state = { cy: null, layoutMs: null, lastTapMs: null, selected: null, select: null };
    var began = performance.now();
    var cy = window.cytoscape({
      container: box,
      elements: JSON.parse(data.textContent),
      style: STYLE,
      layout: { name: "preset" },
      minZoom: 0.05,
      maxZoom: 4,
      wheelSensitivity: 0.4
    });
    var layout = cy.layout({
      name: "breadthfirst", directed: false, roots: cy.nodes(".origin"), spacingFactor: 1.2,
      animate: false, avoidOverlap: true, nodeDimensionsIncludeLabels: true
    });
    layout.one("layoutstop", function () {
      if (cy.zoom() > 2) { cy.zoom(2); cy.center(); }  // a small graph stays readable, not huge
      state.layoutMs = performance.now() - began;
      box.dataset.layoutMs = state.layoutMs.toFixed(1);
      box.classList.add("ready");
    });
    layout.run();

    function clear() {
      cy.elements().removeClass("highlighted faded");
      state.selected = null;
      delete box.dataset.selected;
      panel.replaceChildren(text("p", "No node selected.", "hint"));
    }

    function select(node) {
      var t0 = performance.now();
      cy.batch(function () {
        cy.elements().removeClass("highlighted faded");
        var path = cy.collection();
        (node.data("path") || []).forEach(function (id) { path = path.union(cy.getElementById(id)); });
        var lit = path.union(path.connectedNodes()).union(node);
        cy.elements().not(lit).addClass("faded");
        lit.addClass("highlighted");
        describe(panel, node, path.toArray(), reverse, aggregated);
      });
      state.selected = node.id();
      box.dataset.selected = node.id();
      state.lastTapMs = performance.now() - t0;
    }

    cy.on("tap", "node", function (evt) { select(evt.target); });
    cy.on("tap", function (evt) { if (evt.target === cy) { clear(); } });
    state.cy = cy;
    state.select = function (id) { var node = cy.getElementById(id); if (node.nonempty()) { select(node); } };
    window.rebacReach = state;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
