-- wrk script: every request creates a new sample (POST /v1/datasets/{id}/samples) with a
-- unique file name and the metadata the `lightly` client sends. Path and token come from
-- the URL wrk is given; file names are unique per thread (set up in `setup`).
local counter = 1
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local name = string.format("t%d/img_%09d.jpg", tid, counter)
  local body = string.format(
    '{"fileName":"%s","thumbName":"%s.webp","exif":{},"metaData":{"sizeInBytes":%d,"snr":12.5,"uniformRowRatio":0.1,"mean":[0.5,0.5,0.5],"std":[0.2,0.2,0.2],"shape":[480,640,3],"sharpness":33.1,"luminance":120.5,"contrast":0.4}}',
    name, name, 40000 + counter % 1000)
  return wrk.format(nil, nil, nil, body)
end
