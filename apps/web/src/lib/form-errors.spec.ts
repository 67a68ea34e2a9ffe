import { problemFields } from './form-errors';
import { ApiError } from './problem';

describe('problemFields', () => {
  it("puts a 409's taken slug on the slug field and nothing in the banner", () => {
    const err = new ApiError({
      status: 409,
      code: 'conflict',
      detail: 'A record with this slug already exists',
      errors: [{ path: 'slug', message: 'is already taken' }],
    });
    expect(problemFields(err, ['name', 'slug'])).toEqual({ fields: { slug: 'Is already taken.' }, general: null });
  });

  it('keeps errors of fields the form does not have for the banner', () => {
    const err = new ApiError({
      status: 400,
      errors: [
        { path: 'name', message: 'is required' },
        { path: 'other', message: 'bad' },
      ],
    });
    expect(problemFields(err, ['name'])).toEqual({ fields: { name: 'Is required.' }, general: 'other: bad' });
  });

  it('without field errors, the whole message is general', () => {
    expect(problemFields(new ApiError({ status: 500 }), ['name'])).toEqual({
      fields: {},
      general: 'Something went wrong on our side. Try again in a moment.',
    });
  });
});
