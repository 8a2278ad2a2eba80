// Bevara's pages: the zoomable screenshots. Everything else works without script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var viewers = {};
  document.querySelectorAll(".viewer[data-dzi]").forEach(function (el) {
    if (typeof OpenSeadragon !== "function") { return; }
    var v = OpenSeadragon({
      element: el,
      tileSources: el.dataset.dzi,
      showNavigationControl: false,
      visibilityRatio: 0.2,
      minZoomImageRatio: 0.5,
      maxZoomPixelRatio: 4,
      // A tall page opens at its top, its width filling the viewer.
      homeFillsViewer: false,
      preserveViewport: true,
      crossOriginPolicy: false,
      loadTilesWithAjax: false
    });
    v.addHandler("open", function () {
      var item = v.world.getItemAt(0);
      var size = item.getContentSize();
      var vp = v.viewport;
      var aspect = el.clientHeight / el.clientWidth;
      var h = Math.min(1, aspect * size.x / size.y);
      vp.fitBounds(new OpenSeadragon.Rect(0, 0, 1, h * size.y / size.x), true);
      el.dataset.ready = "1";
    });
    viewers[el.id.replace(/^viewer-/, "")] = v;
  });
  document.querySelectorAll("button[data-zoom]").forEach(function (b) {
    b.addEventListener("click", function () {
      var v = viewers[b.dataset.for];
      if (!v) { return; }
      if (b.dataset.zoom === "in") { v.viewport.zoomBy(2); }
      else if (b.dataset.zoom === "out") { v.viewport.zoomBy(0.5); }
      else { v.viewport.goHome(); }
      v.viewport.applyConstraints();
    });
  });
  window.bevaraViewers = viewers;
});
