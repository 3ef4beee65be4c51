/**
 * ECS answers are written as bytes built a piece at a time (api/ecs/render.ts): the bytes must be exactly those of
 * JSON.stringify's text, whatever the body holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSuccess } from '../../../src/api/ecs/render.ts';
import { jsonBytes } from '../../../src/api/http/json-bytes.ts';

test('jsonBytes writes exactly the UTF-8 of JSON.stringify', () => {
  const bodies: unknown[] = [
    { RequestId: 'r', Images: { Image: [{ OSName: 'CentOS 7.9 64位', Tags: { Tag: [] }, Size: 20 }, { OSName: 'emoji \u{1F600}', Description: '"quoted"\n' }] } },
    { skipped: undefined, fn: () => 1, kept: null, nested: { deeper: [1, 'two', [3, undefined], { x: undefined }] } },
    { when: new Date(0), custom: { toJSON: () => 'custom' }, notANumber: NaN, lone: '\ud800' },
    [], {}, [undefined, () => 1], 'plain', 7, null, { '': 1, 'key "quoted"': '\u2028' },
  ];
  for (const body of bodies) assert.equal(jsonBytes(body).toString('utf8'), JSON.stringify(body), JSON.stringify(body));
  assert.deepEqual(jsonBytes({ a: '位' }), Buffer.from('{"a":"位"}'));
});

test('a success answer is the RequestId then the result, as JSON or XML bytes', () => {
  const json = renderSuccess('DescribeImages', 'R1', { TotalCount: 1, Images: { Image: [{ OSName: '位' }] } }, 'JSON');
  assert.equal(json.body.toString(), '{"RequestId":"R1","TotalCount":1,"Images":{"Image":[{"OSName":"位"}]}}');
  const xml = renderSuccess('DescribeImages', 'R1', { TotalCount: 1 }, 'XML');
  assert.equal(xml.body.toString(), '<?xml version="1.0" encoding="UTF-8"?><DescribeImagesResponse><RequestId>R1</RequestId><TotalCount>1</TotalCount></DescribeImagesResponse>');
});
