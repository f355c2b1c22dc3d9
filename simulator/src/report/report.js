// Filters the cases table and sections by status and text, opens the case
// a link points at and every case for printing, and zooms a screenshot on
// click. The report reads fine without it.
(function () {
  var filter = document.querySelector('.filter');
  filter.hidden = false;
  var q = filter.querySelector('input[type=search]');
  var boxes = Array.prototype.slice.call(filter.querySelectorAll('input[type=checkbox]'));
  function apply() {
    var text = q.value.trim().toLowerCase();
    var on = {};
    boxes.forEach(function (b) { on[b.value] = b.checked; });
    document.querySelectorAll('[data-status]').forEach(function (el) {
      var match = !text || el.getAttribute('data-search').indexOf(text) >= 0;
      el.hidden = !(on[el.getAttribute('data-status')] && match);
    });
  }
  q.addEventListener('input', apply);
  boxes.forEach(function (b) { b.addEventListener('change', apply); });
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('section.case > details').forEach(function (d) { d.open = true; });
  });
  // A link from the table opens the case it points at.
  function openTarget() {
    var el = location.hash && document.getElementById(location.hash.slice(1));
    var d = el && el.querySelector('details');
    if (d) d.open = true;
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
  document.addEventListener('click', function (e) {
    if (e.target.matches('.shots img')) e.target.classList.toggle('zoom');
  });
})();
