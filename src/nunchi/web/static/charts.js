/* nunchi charts: draws every chart the _charts.html macro put in the page, with Apache
 * ECharts (and echarts-wordcloud for word clouds), vendored under /static/vendor/.
 *
 * A chart is <div class="chart" data-chart="ID"> plus <script type="application/json"
 * id="ID-data"> holding {"kind", "title", "labels", "data", "height"}; see _charts.html for the
 * data shapes. Charts in fragments swapped in by htmx are drawn after the swap settles; charts
 * whose element left the page are disposed.
 *
 * Plain ES2017, no build step, nothing inline: it runs under the pages' CSP (script-src
 * 'self', no eval). Untrusted text (series names, words, labels) is drawn on the canvas or set
 * with textContent, never parsed as HTML: tooltips are built as DOM nodes.
 *
 * Public API (window.nunchiCharts):
 *   update(id, data)            replace a chart's data (same shape as the macro's data)
 *   append(id, points, {max})   add points without redrawing the page (see append below)
 *   data(id)                    a copy of the chart's current data
 *   csv(id)                     the CSV text of the chart's data (with the BOM)
 *   png(id)                     a PNG data: URL of the chart (the library's own export)
 *   instance(id)                the ECharts instance (for click handlers and the like)
 *   scan(root)                  draw charts under root (done for the page and htmx swaps)
 * update/append return false (and warn) when no chart has that id, true otherwise.
 */
(function () {
  'use strict';

  var FALLBACK_FONT =
    '"Pretendard", "Apple SD Gothic Neo", "Noto Sans KR", "Malgun Gothic", sans-serif';
  var SERIES_KINDS = { line: 'line', area: 'line', bar: 'bar' };
  var KINDS = ['line', 'area', 'bar', 'pie', 'donut', 'wordcloud'];
  var WORD_CLOUD_MAX_DRAWN = 200;
  var CSV_FORMULA_START = /^[=+\-@\t\r]/;
  // Green and red come last: pages give them meaning (positive, negative) by naming them.
  var PALETTE = ['#1f4e79', '#d4880f', '#8e44ad', '#16a085', '#7f8c8d', '#b03a6f', '#3c6e9f',
    '#2c3e50', '#2e8b57', '#c0392b'];

  var charts = new Map();
  var seen = new Set();

  function warn(message) {
    if (window.console) console.warn('nunchi charts: ' + message);
  }

  function fail(message) {
    throw new TypeError('nunchi charts: ' + message);
  }

  function isNumberOrNull(v) {
    return v === null || (typeof v === 'number' && isFinite(v));
  }

  function text(v) {
    return v === null || v === undefined ? '' : String(v);
  }

  // ---- data shapes -------------------------------------------------------------------

  function normalizeSeries(data, kind) {
    if (!data || !Array.isArray(data.x) || !Array.isArray(data.series)) {
      fail(kind + ' data needs "x" (a list) and "series" (a list of {name, values})');
    }
    var time = data.x_type === 'time';
    var x = data.x.map(function (v) {
      if (!time) return text(v);
      var t = typeof v === 'number' ? v : Date.parse(v);
      if (!isFinite(t)) fail('time value ' + JSON.stringify(v) + ' is not a date');
      return t;
    });
    var series = data.series.map(function (s, i) {
      if (!s || !Array.isArray(s.values)) fail('series ' + i + ' needs "values" (a list)');
      var values = s.values.map(function (v) {
        if (!isNumberOrNull(v)) fail('series ' + i + ' has a value that is not a number');
        return v;
      });
      while (values.length < x.length) values.push(null);
      values.length = x.length;
      var out = { name: text(s.name), values: values };
      if (typeof s.color === 'string') out.color = s.color;
      return out;
    });
    return {
      x: x,
      x_type: time ? 'time' : 'category',
      series: series,
      stack: Boolean(data.stack),
      horizontal: Boolean(data.horizontal),
      smooth: Boolean(data.smooth),
    };
  }

  function normalizeItems(data, kind) {
    var key = kind === 'wordcloud' ? 'words' : 'items';
    var name = kind === 'wordcloud' ? 'word' : 'name';
    var value = kind === 'wordcloud' ? 'weight' : 'value';
    if (!data || !Array.isArray(data[key])) {
      fail(kind + ' data needs "' + key + '" (a list of {' + name + ', ' + value + '})');
    }
    var items = data[key].map(function (item, i) {
      if (!item || typeof item[value] !== 'number' || !isFinite(item[value])) {
        fail(key + '[' + i + '] needs a number "' + value + '"');
      }
      var out = {};
      out[name] = text(item[name]);
      out[value] = item[value];
      if (typeof item.color === 'string') out.color = item.color;
      return out;
    });
    var result = {};
    result[key] = items;
    return result;
  }

  function normalize(kind, data) {
    return SERIES_KINDS[kind] ? normalizeSeries(data, kind) : normalizeItems(data, kind);
  }

  function copy(value) {
    return JSON.parse(JSON.stringify(value));
  }

  // ---- formatting in the page's language ------------------------------------------------

  function formats(lang) {
    var number = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
    var percent = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
    var clock = { hour: '2-digit', minute: '2-digit', hour12: false };
    var minutes = new Intl.DateTimeFormat(lang, clock);
    var seconds = new Intl.DateTimeFormat(lang, Object.assign({ second: '2-digit' }, clock));
    var day = new Intl.DateTimeFormat(lang, { month: 'short', day: 'numeric' });
    var dayTime = new Intl.DateTimeFormat(lang, Object.assign({ month: 'short', day: 'numeric' },
      clock));
    var full = new Intl.DateTimeFormat(lang, Object.assign({
      year: 'numeric', month: 'short', day: 'numeric', second: '2-digit',
    }, clock));
    return {
      number: function (v) { return v === null || v === undefined ? '–' : number.format(v); },
      percent: function (v) { return percent.format(v) + '%'; },
      // An axis tick: the day at midnight over long spans, else the time (to the second
      // where the tick is not on a whole minute).
      time: function (t, span) {
        var d = new Date(t);
        var midnight = !(d.getHours() || d.getMinutes() || d.getSeconds());
        if (span > 86400000 && midnight) return day.format(d);
        if (span > 2 * 86400000) return dayTime.format(d);
        return (d.getSeconds() || d.getMilliseconds() ? seconds : minutes).format(d);
      },
      fullTime: function (t) { return full.format(t); },
    };
  }

  function xText(state, v) {
    return state.data.x_type === 'time' ? state.fmt.fullTime(v) : text(v);
  }

  // ---- tooltips as DOM nodes (never HTML strings) ----------------------------------------

  function node(tag, className, content) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (content !== undefined) el.textContent = content;
    return el;
  }

  function tipRow(color, name, value) {
    var row = node('div', 'chart-tip-row');
    var mark = node('span', 'chart-tip-mark');
    if (typeof color === 'string') mark.style.backgroundColor = color;
    row.appendChild(mark);
    row.appendChild(node('span', 'chart-tip-name', name));
    row.appendChild(node('span', 'chart-tip-value', value));
    return row;
  }

  function axisTooltip(state) {
    return function (params) {
      var list = Array.isArray(params) ? params : [params];
      var box = node('div', 'chart-tip');
      if (!list.length) return box;
      var first = list[0];
      var x = state.data.x[first.dataIndex];
      box.appendChild(node('div', 'chart-tip-head', x === undefined ? '' : xText(state, x)));
      list.forEach(function (p) {
        var s = state.data.series[p.seriesIndex];
        var v = s ? s.values[p.dataIndex] : null;
        box.appendChild(tipRow(p.color, s ? s.name : '', state.fmt.number(v)));
      });
      return box;
    };
  }

  function itemTooltip(state) {
    return function (p) {
      var box = node('div', 'chart-tip');
      var list = state.kind === 'wordcloud' ? state.drawn : state.data.items;
      var item = list[p.dataIndex];
      if (!item) return box;
      var name = state.kind === 'wordcloud' ? item.word : item.name;
      var value = state.kind === 'wordcloud' ? item.weight : item.value;
      var shown = state.fmt.number(value);
      if (state.kind !== 'wordcloud' && typeof p.percent === 'number') {
        shown += ' (' + state.fmt.percent(p.percent) + ')';
      }
      box.appendChild(tipRow(p.color, name, shown));
      return box;
    };
  }

  // ---- ECharts options --------------------------------------------------------------------

  function baseOption(state) {
    return {
      animation: state.animate,
      animationDurationUpdate: 300,
      textStyle: { fontFamily: state.font },
      aria: { enabled: false },
      title: state.title ? {
        text: state.title, left: 'center', top: 4,
        textStyle: { fontFamily: state.font, fontSize: 15, fontWeight: 600, color: '#1b1f24' },
      } : { show: false },
      tooltip: {
        renderMode: 'html', confine: true, enterable: false,
        textStyle: { fontFamily: state.font },
      },
    };
  }

  function seriesOption(state) {
    var d = state.data;
    var labels = state.labels;
    var time = d.x_type === 'time';
    var isBar = state.kind === 'bar';
    var categoryAxis = {
      type: time ? 'time' : 'category',
      name: text(labels.x), nameLocation: 'middle', nameGap: 30,
      boundaryGap: isBar,
      axisLabel: { hideOverlap: true },
    };
    if (time) {
      categoryAxis.axisLabel.formatter = function (v) {
        var x = state.data.x;
        return state.fmt.time(v, x.length ? x[x.length - 1] - x[0] : 0);
      };
    } else {
      categoryAxis.data = d.x.slice();
    }
    var valueAxis = {
      type: 'value', name: text(labels.y), nameLocation: 'middle', nameGap: 44,
      axisLabel: { formatter: function (v) { return state.fmt.number(v); } },
    };
    var option = baseOption(state);
    option.legend = {
      type: 'scroll', top: state.title ? 28 : 4, show: d.series.length > 1,
      textStyle: { fontFamily: state.font },
    };
    option.grid = {
      left: 56, right: 24, bottom: labels.x ? 44 : 24,
      top: (state.title ? 28 : 4) + (d.series.length > 1 ? 32 : 8),
    };
    option.tooltip.trigger = 'axis';
    option.tooltip.formatter = axisTooltip(state);
    // Horizontal bars read top down, in the order of the data.
    if (d.horizontal && isBar) categoryAxis.inverse = true;
    option.xAxis = d.horizontal && isBar ? valueAxis : categoryAxis;
    option.yAxis = d.horizontal && isBar ? categoryAxis : valueAxis;
    option.series = d.series.map(function (s, i) {
      var one = {
        type: SERIES_KINDS[state.kind], name: s.name, data: seriesData(d, s),
        itemStyle: { color: colorOf(s, i) },
      };
      if (d.stack) one.stack = 'total';
      if (!isBar) {
        one.showSymbol = d.x.length <= 30;
        one.smooth = d.smooth;
        one.connectNulls = false;
        if (state.kind === 'area') one.areaStyle = { opacity: d.stack ? 0.85 : 0.25 };
      }
      return one;
    });
    return option;
  }

  // By position, so a series keeps its colour whichever others name theirs.
  function colorOf(thing, i) {
    return thing.color || PALETTE[i % PALETTE.length];
  }

  function seriesData(d, s) {
    if (d.x_type !== 'time') return s.values.slice();
    return s.values.map(function (v, i) { return [d.x[i], v]; });
  }

  function pieOption(state) {
    var option = baseOption(state);
    option.legend = {
      type: 'scroll', bottom: 0, textStyle: { fontFamily: state.font },
    };
    option.tooltip.trigger = 'item';
    option.tooltip.formatter = itemTooltip(state);
    option.series = [{
      type: 'pie',
      radius: state.kind === 'donut' ? ['42%', '68%'] : [0, '68%'],
      center: ['50%', '52%'],
      avoidLabelOverlap: true,
      label: { fontFamily: state.font },
      data: state.data.items.map(function (item, i) {
        return { name: item.name, value: item.value, itemStyle: { color: colorOf(item, i) } };
      }),
    }];
    return option;
  }

  function wordCloudOption(state) {
    var option = baseOption(state);
    // The largest words only: the layout slows down with many (the CSV keeps them all).
    var words = state.data.words.slice().sort(function (a, b) { return b.weight - a.weight; })
      .slice(0, WORD_CLOUD_MAX_DRAWN);
    state.drawn = words;
    option.tooltip.trigger = 'item';
    option.tooltip.formatter = itemTooltip(state);
    option.series = [{
      type: 'wordCloud',
      shape: 'circle',
      left: 'center', top: state.title ? 32 : 4, width: '96%',
      height: state.title ? '82%' : '94%',
      sizeRange: [14, 56], rotationRange: [0, 0], gridSize: 6,
      drawOutOfBound: false, shrinkToFit: true, layoutAnimation: true,
      textStyle: {
        fontFamily: state.font, fontWeight: 'bold',
        color: function (p) {
          return colorOf(words[p.dataIndex] || {}, p.dataIndex);
        },
      },
      emphasis: { focus: 'self', textStyle: { textShadowBlur: 6, textShadowColor: '#9aa3ad' } },
      data: words.map(function (w) { return { name: w.word, value: w.weight }; }),
    }];
    return option;
  }

  function optionFor(state) {
    var option;
    if (SERIES_KINDS[state.kind]) option = seriesOption(state);
    else if (state.kind === 'wordcloud') option = wordCloudOption(state);
    else option = pieOption(state);
    if (isEmpty(state) && state.labels.empty) {
      option.graphic = [{
        type: 'text', left: 'center', top: 'middle', silent: true,
        style: { text: text(state.labels.empty), fill: '#5b6470', fontSize: 14,
          fontFamily: state.font },
      }];
    }
    return option;
  }

  function isEmpty(state) {
    var d = state.data;
    if (SERIES_KINDS[state.kind]) return !d.x.length || !d.series.length;
    return !(state.kind === 'wordcloud' ? d.words : d.items).length;
  }

  // ---- table and CSV from the same data ----------------------------------------------------

  function rows(state) {
    var d = state.data;
    var labels = state.labels;
    if (SERIES_KINDS[state.kind]) {
      var head = [text(labels.x)].concat(d.series.map(function (s) { return s.name; }));
      var body = d.x.map(function (x, i) {
        var first = d.x_type === 'time' ? new Date(x).toISOString() : x;
        return [first].concat(d.series.map(function (s) { return s.values[i]; }));
      });
      return [head].concat(body);
    }
    if (state.kind === 'wordcloud') {
      return [[text(labels.word), text(labels.weight)]].concat(
        d.words.map(function (w) { return [w.word, w.weight]; }));
    }
    return [[text(labels.name), text(labels.value)]].concat(
      d.items.map(function (item) { return [item.name, item.value]; }));
  }

  function csvCell(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return String(v);
    var s = String(v);
    // A cell a spreadsheet would run as a formula (chat text can be "=HYPERLINK(...)").
    if (CSV_FORMULA_START.test(s)) s = "'" + s;
    if (/[",\r\n]/.test(s) || s !== s.trim()) s = '"' + s.replace(/"/g, '""') + '"';
    return s;
  }

  function toCsv(state) {
    return '\ufeff' + rows(state).map(function (row) {
      return row.map(csvCell).join(',');
    }).join('\r\n') + '\r\n';
  }

  function fillTable(state) {
    var holder = document.getElementById(state.id + '-table');
    if (!holder) return;
    var all = rows(state);
    var table = node('table', 'chart-table');
    if (state.title) table.appendChild(node('caption', null, state.title));
    var thead = node('thead');
    var tr = node('tr');
    all[0].forEach(function (h) {
      var th = node('th', null, h);
      th.setAttribute('scope', 'col');
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = node('tbody');
    all.slice(1).forEach(function (row, r) {
      var line = node('tr');
      row.forEach(function (v, i) {
        var shown = typeof v === 'number' ? state.fmt.number(v) : v === null ? '–' : text(v);
        if (i === 0 && SERIES_KINDS[state.kind]) shown = xText(state, state.data.x[r]);
        var cell = node(i === 0 ? 'th' : 'td', null, shown);
        if (i === 0) cell.setAttribute('scope', 'row');
        line.appendChild(cell);
      });
      tbody.appendChild(line);
    });
    table.appendChild(tbody);
    holder.textContent = '';
    holder.appendChild(table);
  }

  // ---- drawing -------------------------------------------------------------------------

  function readSpec(id) {
    var block = document.getElementById(id + '-data');
    if (!block) fail('chart "' + id + '" has no <script type="application/json" id="' +
      id + '-data">');
    var spec = JSON.parse(block.textContent);
    if (KINDS.indexOf(spec.kind) < 0) {
      fail('chart "' + id + '" has kind ' + JSON.stringify(spec.kind) + '; one of ' +
        KINDS.join(', '));
    }
    return spec;
  }

  function pageLanguage(el) {
    var holder = el.closest('[lang]');
    return (holder && holder.getAttribute('lang')) || 'ko';
  }

  function draw(state, notMerge) {
    state.instance.setOption(optionFor(state), { notMerge: notMerge });
    state.drewEmpty = isEmpty(state);
    fillTable(state);
  }

  function mount(el) {
    var id = el.getAttribute('data-chart');
    var existing = charts.get(id);
    if (existing && existing.el === el) return;
    if (existing) dispose(existing);
    var spec = readSpec(id);
    var lang = pageLanguage(el);
    var state = {
      id: id, el: el, kind: spec.kind, title: text(spec.title), labels: spec.labels || {},
      data: normalize(spec.kind, spec.data), lang: lang, fmt: formats(lang),
      font: window.getComputedStyle(el).fontFamily || FALLBACK_FONT,
      // A chart swapped in again under the same id (a refreshing panel) does not animate in.
      animate: !seen.has(id),
    };
    seen.add(id);
    if (typeof spec.height === 'number' && spec.height > 0) el.style.height = spec.height + 'px';
    var old = window.echarts.getInstanceByDom(el);
    if (old) old.dispose();
    state.instance = window.echarts.init(el, null, { renderer: 'canvas' });
    state.instance.on('finished', function () { el.setAttribute('data-chart-state', 'ready'); });
    charts.set(id, state);
    draw(state, true);
    if (window.ResizeObserver) {
      state.observer = new ResizeObserver(function () {
        if (!state.instance.isDisposed()) state.instance.resize();
      });
      state.observer.observe(el);
    }
  }

  function dispose(state) {
    if (state.observer) state.observer.disconnect();
    if (!state.instance.isDisposed()) state.instance.dispose();
    if (charts.get(state.id) === state) charts.delete(state.id);
  }

  function cleanup() {
    charts.forEach(function (state) { if (!state.el.isConnected) dispose(state); });
  }

  function scan(root) {
    cleanup();
    if (!window.echarts) {
      warn('ECharts is not loaded: put chart_assets() in the page head');
      return;
    }
    var scope = root && root.querySelectorAll ? root : document;
    var found = Array.prototype.slice.call(scope.querySelectorAll('[data-chart]'));
    if (scope.matches && scope.matches('[data-chart]')) found.unshift(scope);
    found.forEach(function (el) {
      try {
        mount(el);
      } catch (e) {
        if (window.console) console.error(e);
      }
    });
  }

  // ---- live updates ------------------------------------------------------------------------

  function stateOf(id) {
    var state = charts.get(id);
    if (state && !state.el.isConnected) {
      dispose(state);
      state = undefined;
    }
    if (!state) warn('no chart with id "' + id + '" on the page');
    return state;
  }

  function update(id, data) {
    var state = stateOf(id);
    if (!state) return false;
    state.data = normalize(state.kind, data);
    draw(state, true);
    return true;
  }

  function trimFront(list, max) {
    if (max > 0 && list.length > max) list.splice(0, list.length - max);
  }

  function appendSeries(state, points, max) {
    var d = state.data;
    points.forEach(function (p, i) {
      if (!p || p.x === undefined) fail('point ' + i + ' needs "x"');
      var x = d.x_type === 'time' ? (typeof p.x === 'number' ? p.x : Date.parse(p.x)) : text(p.x);
      if (d.x_type === 'time' && !isFinite(x)) fail('point ' + i + ' has an "x" that is no date');
      var values = p.values;
      d.series.forEach(function (s, k) {
        var v = Array.isArray(values) ? values[k] : values && values[s.name];
        if (v === undefined) v = null;
        if (!isNumberOrNull(v)) fail('point ' + i + ' has a value that is not a number');
        s.values.push(v);
      });
      d.x.push(x);
    });
    if (max > 0 && d.x.length > max) {
      trimFront(d.x, max);
      d.series.forEach(function (s) { trimFront(s.values, max); });
    }
  }

  function appendItems(state, points, max) {
    var words = state.kind === 'wordcloud';
    var list = words ? state.data.words : state.data.items;
    var name = words ? 'word' : 'name';
    var value = words ? 'weight' : 'value';
    points.forEach(function (p, i) {
      if (!p || typeof p[value] !== 'number' || !isFinite(p[value])) {
        fail('point ' + i + ' needs a number "' + value + '"');
      }
      var key = text(p[name]);
      var found = list.filter(function (item) { return item[name] === key; })[0];
      if (found) {
        found[value] += p[value];
      } else {
        var item = {};
        item[name] = key;
        item[value] = p[value];
        list.push(item);
      }
    });
    list.sort(function (a, b) { return b[value] - a[value]; });
    if (max > 0 && list.length > max) list.length = max;
  }

  /* append(id, points, {max}): points is one point or a list.
   *   line/area/bar: {x, values} with values a list in series order or {seriesName: value};
   *                  with max, only the last max points are kept.
   *   pie/donut:     {name, value}; wordcloud: {word, weight}. The value is added to an item
   *                  of the same name (counts accumulate); with max, the largest max are kept.
   */
  function append(id, points, options) {
    var state = stateOf(id);
    if (!state) return false;
    var list = Array.isArray(points) ? points : [points];
    var max = options && typeof options.max === 'number' ? options.max : 0;
    if (SERIES_KINDS[state.kind]) appendSeries(state, list, max);
    else appendItems(state, list, max);
    var d = state.data;
    if (SERIES_KINDS[state.kind] && !state.drewEmpty) {
      // Only the data changes: the chart moves on instead of being drawn anew.
      var patch = { series: d.series.map(function (s) { return { data: seriesData(d, s) }; }) };
      if (d.x_type !== 'time') {
        patch[d.horizontal && state.kind === 'bar' ? 'yAxis' : 'xAxis'] = { data: d.x.slice() };
      }
      state.instance.setOption(patch);
      fillTable(state);
    } else {
      draw(state, state.drewEmpty);
    }
    return true;
  }

  // ---- export ---------------------------------------------------------------------------

  function png(id) {
    var state = stateOf(id);
    if (!state) return null;
    return state.instance.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: '#fff' });
  }

  function download(href, name) {
    var a = document.createElement('a');
    a.href = href;
    a.download = name;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  function fileName(state, ext) {
    var base = text(state.labels.filename) || state.id;
    return base.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_') + '.' + ext;
  }

  function exportChart(id, format) {
    var state = stateOf(id);
    if (!state) return;
    if (format === 'png') {
      download(png(id), fileName(state, 'png'));
    } else if (format === 'csv') {
      var url = URL.createObjectURL(new Blob([toCsv(state)], { type: 'text/csv;charset=utf-8' }));
      download(url, fileName(state, 'csv'));
      window.setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
    }
  }

  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('[data-chart-export]');
    if (!button) return;
    event.preventDefault();
    exportChart(button.getAttribute('data-chart-for'), button.getAttribute('data-chart-export'));
  });

  // htmx swaps in fragments after the page loaded: draw their charts once they settle. The
  // whole page is scanned (charts already drawn are skipped): after an outerHTML swap the
  // event's target may be the element that was swapped out.
  document.addEventListener('htmx:afterSettle', function () { scan(document); });
  document.addEventListener('htmx:afterSwap', cleanup);

  // A web font that finishes loading after a chart was drawn (none is vendored today: the
  // charts use the system's Korean font, like the page) would leave the canvas with the
  // fallback glyphs: draw again.
  if (document.fonts && document.fonts.addEventListener) {
    document.fonts.addEventListener('loadingdone', function () {
      charts.forEach(function (state) { if (state.el.isConnected) draw(state, false); });
    });
  }

  window.nunchiCharts = Object.freeze({
    update: update,
    append: append,
    data: function (id) { var s = stateOf(id); return s ? copy(s.data) : null; },
    csv: function (id) { var s = stateOf(id); return s ? toCsv(s) : null; },
    png: png,
    instance: function (id) { var s = stateOf(id); return s ? s.instance : null; },
    scan: scan,
  });

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () { scan(document); });
  } else {
    scan(document);
  }
})();
