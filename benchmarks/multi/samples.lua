-- wrk script: like benchmarks/writes/samples.lua (each request creates a sample), but file
-- names start with the prefix given after `--`, so several wrk processes writing into one
-- dataset never send the same name (a repeated name is answered 409).
local counter = 1
local threads = {}
local prefix = "w"

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  if args[1] then prefix = args[1] end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local name = string.format("%s-t%d/img_%09d.jpg", prefix, tid, counter)
  local body = string.format(
    '{"fileName":"%s","thumbName":"%s.webp","exif":{},"metaData":{"sizeInBytes":%d,"snr":12.5,"uniformRowRatio":0.1,"mean":[0.5,0.5,0.5],"std":[0.2,0.2,0.2],"shape":[480,640,3],"sharpness":33.1,"luminance":120.5,"contrast":0.4}}',
    name, name, 40000 + counter % 1000)
  return wrk.format(nil, nil, nil, body)
end
