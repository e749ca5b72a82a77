/**
 * `GET /` on the admin listener (issue 12 item 4): one self-contained HTML page (inline CSS and
 * JS, no framework, nothing fetched from elsewhere) that reads `/stats` every 2 s and shows each
 * farm's servers at a glance, with drain / maint / ready buttons that POST to the admin API
 * (`Content-Type: application/json`, same origin: the browser's Basic credentials or the
 * session cookie go with it). Values are inserted with textContent only (server names and
 * reasons come from the config and from servers: never as HTML).
 */

export const STATS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>longhaul stats</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:12px;color:#222;background:#fafafa}
h1{font-size:16px;margin:0 0 6px} h2{font-size:14px;margin:16px 0 4px}
#meta{color:#666;margin-bottom:8px} #err{color:#b00}
table{border-collapse:collapse;background:#fff;min-width:100%}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#eee;font-weight:600} td.l,th.l{text-align:left}
tr.UP td.st{background:#c8f0c8} tr.DOWN td.st{background:#f4b4b4} tr.DRAIN td.st{background:#bcd4f6} tr.MAINT td.st{background:#f6d68c}
tr.backup td.name::after{content:" (backup)";color:#888}
button{font-size:12px;margin:0 1px;cursor:pointer} .warn{color:#b60}
</style></head><body>
<h1>longhaul</h1><div id="meta">loading…</div><div id="err"></div><div id="farms"></div><h2>Certificates</h2><div id="certs"></div>
<script>
"use strict";
const COLS=["server","state","weight","in flight","open","idle","busy","queue","hs full","hs resumed","requests","on reused","retries","2xx","4xx","5xx","errors","last check","reason",""];
function el(tag,text,cls){const e=document.createElement(tag);if(text!==undefined&&text!==null)e.textContent=String(text);if(cls)e.className=cls;return e}
function sum(pools,f){return pools.reduce((n,p)=>n+f(p),0)}
async function act(farm,server,state){
  const r=await fetch("/servers/"+encodeURIComponent(farm)+"/"+encodeURIComponent(server),{method:"POST",headers:{"content-type":"application/json"},body:JSON.stringify({state}),credentials:"same-origin"});
  if(!r.ok){document.getElementById("err").textContent=state+" "+farm+"/"+server+": "+r.status+" "+(await r.text())}
  refresh();
}
function row(farm,s){
  const tr=el("tr");tr.className=s.state+(s.backup?" backup":"");tr.dataset.server=s.name;tr.dataset.state=s.state;
  const p=s.pools||[],c=s.counters,errs=Object.entries(c.errors||{}).map(([k,v])=>k+"="+v).join(" ");
  const last=s.health&&s.health.checks&&s.health.checks.last;
  const cells=[s.name,s.state+(s.admin!=="ready"?" ("+s.admin+")":""),s.weight,s.active,sum(p,x=>x.open),sum(p,x=>x.idle),sum(p,x=>x.busy),sum(p,x=>x.queue),
    sum(p,x=>x.counters.handshakesFull),sum(p,x=>x.counters.handshakesResumed),c.requests,c.requestsOnReused,c.retries,
    (c.responses||{})["2xx"]||0,(c.responses||{})["4xx"]||0,(c.responses||{})["5xx"]||0,errs||"-",
    last?(last.result+(last.status?" "+last.status:"")+" "+last.at.slice(11,19)):"-",(s.health&&s.health.lastReason)||""];
  cells.forEach((v,i)=>tr.appendChild(el("td",v,i===0?"l name":i===1?"l st":i>=16?"l":"")));
  const td=el("td");
  for(const a of ["drain","maint","ready"]){const b=el("button",a);b.dataset.action=a;b.onclick=()=>act(farm,s.name,a);td.appendChild(b)}
  tr.appendChild(td);return tr;
}
function render(st){
  document.getElementById("meta").textContent="up "+st.uptime_s+" s · "+st.listeners.map(l=>l.name+":"+l.port).join(", ")+" · refreshed "+new Date().toLocaleTimeString();
  const root=document.getElementById("farms");root.replaceChildren();
  for(const f of st.farms){
    root.appendChild(el("h2","farm "+f.name));
    const t=el("table");t.dataset.farm=f.name;const h=el("tr");COLS.forEach((c,i)=>h.appendChild(el("th",c,i<2||i>=16?"l":"")));t.appendChild(h);
    for(const s of f.servers)t.appendChild(row(f.name,s));root.appendChild(t);
  }
  const ct=el("table"),ch=el("tr");["where","file","subject","expires","days left"].forEach(c=>ch.appendChild(el("th",c,"l")));ct.appendChild(ch);
  for(const c of st.certificates){const tr=el("tr");[c.where,c.cert,c.subject,c.not_after,c.days_left].forEach(v=>tr.appendChild(el("td",v,"l")));if(c.warning)tr.className="warn";ct.appendChild(tr)}
  document.getElementById("certs").replaceChildren(ct);
}
async function refresh(){
  try{const r=await fetch("/stats?compact",{credentials:"same-origin"});if(!r.ok)throw new Error("GET /stats: "+r.status);render(await r.json());document.getElementById("err").textContent=""}
  catch(e){document.getElementById("err").textContent=String(e)}
}
refresh();setInterval(refresh,2000);
</script></body></html>
`;

/** The login page (a token is configured and the browser sent no valid credentials). */
export const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>longhaul admin login</title>
<style>body{font:14px system-ui,sans-serif;margin:40px}input{font-size:14px;padding:4px}#err{color:#b00}</style></head>
<body><h1>longhaul admin</h1><form id="f"><label>Admin token <input id="token" type="password" autocomplete="current-password" autofocus></label>
<button type="submit">Log in</button></form><p id="err"></p>
<p><a href="/basic">or use the browser's password dialog</a> (any user name, the token as password)</p>
<script>
"use strict";
document.getElementById("f").onsubmit=async(e)=>{e.preventDefault();
  const r=await fetch("/login",{method:"POST",headers:{"content-type":"application/json"},body:JSON.stringify({token:document.getElementById("token").value}),credentials:"same-origin"});
  if(r.ok)location.href="/";else document.getElementById("err").textContent="wrong token";};
</script></body></html>
`;
